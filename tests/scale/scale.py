#!/usr/bin/env python3
"""Baton horizontal-scaling test (`make scale`; `--smoke` runs inside `make test`).

Starts its own PostgreSQL and Tansu broker (tests/chaos/infra.py), one coordinator-side `baton
serve --roles coordinator,relay,sweeper` and 1 to 4 `baton serve --roles worker,watcher --pools
scale` processes. It measures runs/s of a generated noop pipeline with 1, 2 and 4 worker processes
(scaling out while probe runs are in flight), then, with runs streaming in, kills workers with
kill -9 in the middle of their stages, kills the worker whose Ray job (a real one, on the stack's
Ray head) is running and times how long until another worker's watcher adopts it, and scales back
in to 1 worker. Then it waits (bounded) for every run to end and checks, from PostgreSQL and Ray:
every run succeeded; every worker claimed a share of the attempts; no attempt was claimed or
executed twice; no stage succeeded twice; each Ray attempt is one Ray job (submission id = attempt
id) whose entrypoint ran once; each killed Ray attempt was adopted, not run again.

Prints ONE JSON object on stdout (progress goes to stderr) and exits 0 when every check passed,
1 when a check failed, 2 when the test could not set itself up.

Run with the tools venv, after `eval "$(scripts/stack env)"` (for BATON_RAY_ADDRESS):
    "$BATON_PYTHON_TOOLS" tests/scale/scale.py --help
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "chaos"))

import hostile  # noqa: E402
from infra import (  # noqa: E402
    ChaosError, ServeProcess, SuiteBase, Supervisor, add_suite_args, apply_preset, run_suite, tail)
from kafka_io import Producer, topic_partitions  # noqa: E402

PREFIX = "scale"  # topic prefix and consumer group prefix of this test's serve processes
POOL = "scale"    # the one pool every worker serves
COORDINATOR_ROLES = "coordinator,relay,sweeper"
WORKER_ROLES = "worker,watcher"
TERMINAL = ("succeeded", "failed", "cancelled")

# Who claimed what, and when: a row per lease-epoch change of an attempt (a claim is queued ->
# running, an adoption is running -> running with another owner, the sweeper's end of a dead
# worker's attempt is running -> lost). Added to this test's own throwaway database only, after
# the migrations; Baton neither reads nor knows it. clock_timestamp(): the moment of the change.
AUDIT_SQL = """
CREATE TABLE scale_lease_log (
    id         bigserial PRIMARY KEY,
    attempt_id uuid NOT NULL,
    kind       text NOT NULL,
    old_state  text,
    new_state  text,
    old_owner  text,
    new_owner  text,
    epoch      bigint,
    at         timestamptz NOT NULL DEFAULT clock_timestamp()
);
GRANT SELECT, INSERT ON scale_lease_log TO baton;
GRANT USAGE ON SEQUENCE scale_lease_log_id_seq TO baton;
CREATE FUNCTION scale_log_lease() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO scale_lease_log (attempt_id, kind, old_state, new_state, old_owner, new_owner, epoch)
    VALUES (NEW.id, NEW.kind, OLD.state, NEW.state, OLD.lease_owner, NEW.lease_owner, NEW.lease_epoch);
    RETURN NULL;
END
$$;
CREATE TRIGGER scale_lease_log AFTER UPDATE OF lease_epoch ON stage_attempts FOR EACH ROW
    WHEN (OLD.lease_epoch IS DISTINCT FROM NEW.lease_epoch) EXECUTE FUNCTION scale_log_lease();
"""


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--max-workers", type=int, default=4,
                   help="scale out 1 -> 2 -> 4 (doubling up to this), then back in one by one to 1")
    p.add_argument("--batch-runs", type=int, default=40,
                   help="runs per worker process in each throughput batch (1 worker: N runs, 4 workers: 4N)")
    p.add_argument("--stages", type=int, default=4, help="stages of the generated noop pipeline (a chain)")
    p.add_argument("--stage-sleep", default="500ms", help="noop sleep of each stage (simulated work)")
    p.add_argument("--worker-concurrency", type=int, default=4,
                   help="BATON_WORKER_CONCURRENCY of each worker: with the sleep, a worker's capacity")
    p.add_argument("--window", type=float, default=120,
                   help="fault window, at least this many seconds: runs stream in while workers are killed,"
                        " Ray attempts adopted and the pool scaled in, one membership change at a time")
    p.add_argument("--stream-rate", type=float, default=0,
                   help="runs/s submitted during the window (0: half the measured 1-worker throughput)")
    p.add_argument("--kills", type=int, default=10, help="kill -9 of workers in the middle of a stage")
    p.add_argument("--restart-delay", type=float, nargs=2, default=[0.5, 3.0], metavar=("MIN", "MAX"),
                   help="seconds before a killed worker is started again")
    p.add_argument("--ray-trials", type=int, default=3,
                   help="Ray runs whose worker is killed while the job runs (0: no Ray stage)")
    p.add_argument("--ray-sleep", type=float, default=8, help="seconds the Ray job sleeps")
    p.add_argument("--lease-seconds", type=float, default=5, help="BATON_LEASE_SECONDS of every serve process")
    p.add_argument("--sweep-seconds", type=float, default=0.5,
                   help="BATON_SWEEP_SECONDS: sweeper and watcher pass interval")
    p.add_argument("--min-share", type=float, default=0.25,
                   help="in a throughput batch, each worker must claim at least this fraction of a fair share")
    p.add_argument("--min-speedup", type=float, default=1.5,
                   help="runs/s with --max-workers must be at least this multiple of runs/s with 1 (0: report only)")
    p.add_argument("--group-timeout", type=float, default=90,
                   help="before each membership change, seconds to wait for the pool's consumer group to be stable")
    p.add_argument("--no-group-gate", action="store_true",
                   help="do not wait for a stable consumer group between membership changes (fine on Apache"
                        " Kafka; Tansu may wedge the group)")
    p.add_argument("--probe-timeout", type=float, default=90,
                   help="after scaling out, seconds for every worker to claim an attempt (group rebalance)")
    p.add_argument("--batch-timeout", type=float, default=300, help="seconds for one throughput batch to end")
    p.add_argument("--ray-timeout", type=float, default=120,
                   help="seconds for a Ray trial's job to start, and again for its adoption")
    p.add_argument("--settle-timeout", type=float, default=420,
                   help="after the window, seconds to wait for every run to end")
    p.add_argument("--stall-timeout", type=float, default=90,
                   help="stop waiting early when no run ended for this long")
    add_suite_args(p, "scale", REPO)
    p.add_argument("--ray-address", default=os.environ.get("BATON_RAY_ADDRESS"),
                   help="Ray Jobs API of the Ray head (env BATON_RAY_ADDRESS, from scripts/stack env)")
    p.add_argument("--smoke", action="store_true",
                   help="small preset (batch-runs 10, window 30 s, 2 kills, 1 Ray trial, speedup reported only,"
                        " settle 150 s, stall 60 s, probe 60 s); explicit flags still win")
    args = p.parse_args(argv)
    if args.smoke:
        defaults = {"batch_runs": 10, "window": 30, "kills": 2, "ray_trials": 1, "min_speedup": 0,
                    "settle_timeout": 150,
                    "stall_timeout": 60, "probe_timeout": 60, "batch_timeout": 150, "ray_timeout": 90}
        apply_preset(args, argv, defaults)
    if args.max_workers < 1 or args.stages < 1 or args.batch_runs < 1:
        p.error("--max-workers, --stages and --batch-runs must be at least 1")
    return args


def noop_spec(stages: int, sleep: str) -> str:
    """A chain s0 -> s1 -> ... of noop stages on the scaled pool, retried after a lost worker."""
    lines = ["apiVersion: baton/v1", "kind: Pipeline", "metadata: {name: scale-noop}",
             f"defaults: {{pool: {POOL}, timeout: 2m,"
             " retries: {limit: 5, backoff: 500ms, factor: 2, maxBackoff: 5s}}",
             "stages:"]
    for i in range(stages):
        needs = f", needs: [s{i - 1}]" if i else ""
        lines.append(f"  - {{name: s{i}, kind: noop{needs}, noop: {{sleep: {sleep}}}}}")
    return "\n".join(lines) + "\n"


def ray_spec(markers: Path, sleep: float) -> str:
    """One real Ray job, then a noop stage. The job leaves a file named <attempt id>.<pid> in
    `markers` when its entrypoint starts (the Ray head runs on this machine), so the test can
    count how often each attempt's job really ran. Never served from the cache."""
    code = (f"import os, time; open(os.path.join({str(markers)!r}, os.environ['BATON_ATTEMPT_ID'] + '.' +"
            f" str(os.getpid())), 'x').close(); time.sleep({sleep})")
    entrypoint = json.dumps(f'python -c "{code}"')
    return f"""apiVersion: baton/v1
kind: Pipeline
metadata: {{name: scale-ray}}
defaults: {{pool: {POOL}, timeout: 5m, retries: {{limit: 2, backoff: 1s, factor: 2}}}}
stages:
  - name: job
    cache: false
    ray: {{entrypoint: {entrypoint}, resources: {{cpus: 0.1}}}}
  - {{name: after, kind: noop, needs: [job]}}
"""


def pid_of(owner: str | None) -> int | None:
    """The pid in a serve instance id (`<host>-<pid>`)."""
    tail_ = (owner or "").rsplit("-", 1)[-1]
    return int(tail_) if tail_.isdigit() else None


def spread(values: list[float]) -> dict:
    if not values:
        return {}
    v = sorted(values)
    return {"n": len(v), "min": round(v[0], 2), "median": round(statistics.median(v), 2),
            "p95": round(v[min(len(v) - 1, int(0.95 * len(v)))], 2), "max": round(v[-1], 2)}


class ScaleTest(SuiteBase):
    kind = "scale"
    prefix = PREFIX
    report_head = ("suite", "ok", "failed_checks", "error", "figures", "checks")

    def __init__(self, args):
        super().__init__(args, REPO)
        self.report["smoke"] = args.smoke
        self.markers = self.state / "ray-markers"
        self.sent: dict[str, dict] = {}  # idempotency key -> what was sent, when, acked
        self.lock = threading.Lock()
        self.timeline: list[dict] = []  # scale steps, kills, Ray trials, phases
        self.kills: list[dict] = []
        self.trials: list[dict] = []
        self.batches: list[dict] = []
        self.probes: list[dict] = []
        self.gates: list[dict] = []  # waits for the pool's consumer group to be stable
        self.partitions = 0
        self.sender = ThreadPoolExecutor(max_workers=8, thread_name_prefix="send")
        self.futures: list = []
        self.active: list[ServeProcess] = []   # worker processes in service now (not retired)
        self.workers: list[ServeProcess] = []  # every worker process ever started
        self.t0 = time.time()
        self.noop = noop_spec(args.stages, args.stage_sleep)
        self.ray = ray_spec(self.markers, args.ray_sleep)

    def t(self) -> float:
        return round(time.time() - self.t0, 2)

    def note(self, event: str, **fields) -> dict:
        entry = {"t": self.t(), "event": event, **fields}
        self.timeline.append(entry)
        return entry

    # ------------------------------------------------------------------ setup

    def setup(self) -> None:
        a = self.args
        if a.ray_trials > 0:
            if not a.ray_address:
                raise ChaosError('no Ray address: eval "$(scripts/stack env)" first (BATON_RAY_ADDRESS), '
                                 "or --ray-trials 0")
            try:
                with urllib.request.urlopen(f"{a.ray_address}/api/version", timeout=10) as r:
                    self.report["ray_version"] = json.loads(r.read()).get("ray_version")
            except Exception as e:  # noqa: BLE001
                raise ChaosError(f"the Ray head at {a.ray_address} does not answer ({e!r:.200}): scripts/stack up")
        self.start_servers()
        self.markers.mkdir()
        self.pg.psql(AUDIT_SQL)
        env = self.worker_env()
        coordinator = self.process("coordinator", COORDINATOR_ROLES, env)
        first = self.process("worker-1", WORKER_ROLES, env)
        self.supervisor = Supervisor([coordinator, first], self.t0)
        self.supervisor.start_all()
        self.active, self.workers = [first], [first]
        self.supervisor.wait_serving(timeout=180)
        self.producer = Producer(self.broker.address)
        self.partitions = topic_partitions(self.broker.address, [f"{PREFIX}.stage.ready.{POOL}"]).get(
            f"{PREFIX}.stage.ready.{POOL}", 0)
        if not self.partitions:
            raise ChaosError(f"topic {PREFIX}.stage.ready.{POOL} missing after serve started")
        self.note("scaled", workers=1)
        self.log("coordinator and worker-1 serving")

    def worker_env(self) -> dict:
        """Every serve process's environment (the coordinator's too): the Ray head is the stack's."""
        a = self.args
        return self.serve_env({
            "BATON_POOLS": POOL, "BATON_LEASE_SECONDS": str(a.lease_seconds),
            "BATON_SWEEP_SECONDS": str(a.sweep_seconds), "BATON_REDRIVE_SECONDS": "5",
            "BATON_WORKER_CONCURRENCY": str(a.worker_concurrency),
            **({"BATON_RAY_ADDRESS": a.ray_address} if a.ray_address else {}),
        })

    def process(self, name: str, roles: str, env: dict) -> ServeProcess:
        cwd = self.state / "run" / name
        cwd.mkdir(parents=True, exist_ok=True)
        args = ["--pools", POOL] if "worker" in roles else []
        return ServeProcess(name, roles, env, self.args.baton, cwd, self.logs / f"{name}.log", metrics=False,
                            pidfile=self.state / "pids", args=args)

    # ------------------------------------------------------------------ database views

    def slot_of(self, owner: str | None) -> str:
        """The worker process (worker-N) an instance id belongs to, by its pid."""
        pid = pid_of(owner)
        for p in self.supervisor.processes:
            if pid in p.pids:
                return p.name
        return f"unknown:{owner}"

    def claims(self, since: float = 0, until: float = float("inf")) -> list[dict]:
        """Claims (queued -> running) of attempts, with their owner's worker process."""
        rows = self.pg.query_json(
            "SELECT attempt_id::text AS attempt, new_owner AS owner, kind, extract(epoch FROM at)::float8 AS at"
            " FROM scale_lease_log WHERE old_state = 'queued' AND new_state = 'running'"
            f" AND at >= to_timestamp({since})")
        out = [r for r in rows if since <= r["at"] <= until]
        for r in out:
            r["worker"] = self.slot_of(r["owner"])
        return out

    def runs(self) -> dict[str, dict]:
        rows = self.pg.query_json(
            "SELECT idempotency_key AS key, id::text AS id, state, left(reason, 300) AS reason,"
            " extract(epoch FROM created_at)::float8 AS created, extract(epoch FROM finished_at)::float8 AS finished"
            " FROM runs")
        return {r["key"]: r for r in rows if r["key"]}

    # ------------------------------------------------------------------ submitting

    def submit(self, kind: str, wait_acked: bool = False) -> str:
        """Sends one pipeline.requested as an external producer does (a raw Kafka record with an
        inline spec and an idempotency key), from the sender pool; returns the key."""
        with self.lock:
            key = f"scale-{self.stamp}-{kind}-{len(self.sent):05d}"
            entry = self.sent[key] = {"kind": kind, "t": self.t(), "acked": False}
        rec = hostile.good_request(key, self.ray if kind == "ray" else self.noop)

        def send() -> None:
            try:
                self.producer.send(f"{PREFIX}.pipeline.requested", rec.key, rec.value, rec.headers, deadline_s=60)
                entry["acked"] = True
            except Exception as e:  # noqa: BLE001
                entry["error"] = repr(e)[:300]

        future = self.sender.submit(send)
        self.futures.append(future)
        if wait_acked:
            future.result()
        return key

    def keys(self) -> list[str]:
        with self.lock:
            return list(self.sent)

    def sends_done(self) -> None:
        wait(list(self.futures))

    def wait_runs(self, keys: list[str], timeout: float, what: str) -> tuple[bool, dict]:
        """Until every key's run is terminal (a key whose record was not acked counts as ended)."""
        deadline = time.time() + timeout
        while True:
            runs = self.runs()
            pending = [k for k in keys if self.sent[k]["acked"] and runs.get(k, {}).get("state") not in TERMINAL]
            if not pending:
                return True, runs
            if time.time() > deadline:
                self.log(f"gave up waiting for {what}: {len(pending)} of {len(keys)} runs not ended"
                         f" after {timeout:.0f}s")
                return False, runs
            time.sleep(1)

    # ------------------------------------------------------------------ scaling out, measuring

    def scale_out(self, count: int) -> None:
        """Starts workers until `count` are active, then sends probe runs until each has claimed an
        attempt (its consumer got partitions after the group rebalanced), then lets them end."""
        env = self.worker_env()
        started = time.time()
        new = []
        while len(self.active) < count:
            p = self.process(f"worker-{len(self.workers) + 1}", WORKER_ROLES, env)
            self.supervisor.add(p)
            self.active.append(p)
            self.workers.append(p)
            new.append(p)
        if new:
            self.supervisor.wait_serving(timeout=180, processes=new)
            self.note("scaled", workers=len(self.active), started=[p.name for p in new])
            self.log(f"scaled out to {len(self.active)} workers")
        self.await_group(f"the {count}-worker batch")
        self.probe(started)

    def probe(self, since: float) -> None:
        a = self.args
        entry = {"workers": len(self.active), "ok": False, "runs": 0}
        deadline = time.time() + a.probe_timeout
        while True:
            claimed = {c["owner"] for c in self.claims(since)}
            missing = [p.name for p in self.active if not any(pid_of(o) == p.proc.pid for o in claimed)]
            if not missing:
                entry.update(ok=True, after_s=round(time.time() - since, 1))
                break
            if time.time() > deadline:
                entry.update(missing=missing, after_s=round(time.time() - since, 1))
                self.log(f"probe: {missing} claimed nothing within {a.probe_timeout:.0f}s of scaling out")
                break
            for _ in range(len(self.active)):
                self.submit("probe")
                entry["runs"] += 1
            time.sleep(1)
        self.probes.append(entry)
        self.sends_done()
        ok, _ = self.wait_runs(self.keys(), a.batch_timeout, "the probe runs")
        entry["quiet_after_s"] = round(time.time() - since, 1)
        if not ok:
            entry["not_quiet"] = True

    def batch(self) -> None:
        """A throughput batch: N x batch-runs runs sent at once; runs/s = runs / (last end - first send)."""
        a = self.args
        n = len(self.active)
        self.log(f"throughput batch: {a.batch_runs * n} runs on {n} worker(s)")
        t_start = time.time()
        keys = [self.submit(f"batch{n}") for _ in range(a.batch_runs * n)]
        self.sends_done()
        t_sent = time.time()
        done, runs = self.wait_runs(keys, a.batch_timeout, f"the {n}-worker batch")
        ended = [runs[k] for k in keys if k in runs and runs[k]["finished"]]
        t_end = max((r["finished"] for r in ended), default=time.time())
        seconds = max(t_end - t_start, 1e-3)
        claims = self.claims(t_start, t_end)
        per_worker = {p.name: 0 for p in self.active}
        for c in claims:
            per_worker[c["worker"]] = per_worker.get(c["worker"], 0) + 1
        fig = {
            "workers": n, "runs": len(keys), "all_ended": done,
            "succeeded": sum(1 for r in ended if r["state"] == "succeeded"),
            "submit_s": round(t_sent - t_start, 2), "seconds": round(seconds, 2),
            "runs_per_s": round(sum(1 for r in ended if r["state"] == "succeeded") / seconds, 2),
            "attempts_claimed_per_s": round(len(claims) / seconds, 2),
            "run_latency_s": spread([r["finished"] - r["created"] for r in ended]),
            "attempts_claimed_per_worker": per_worker, "load_avg_1m": round(os.getloadavg()[0], 2),
        }
        self.batches.append(fig)
        self.note("batch", workers=n, runs_per_s=fig["runs_per_s"])
        self.log(f"{n} worker(s): {fig['runs_per_s']} runs/s, claims {per_worker}")

    # ------------------------------------------------------------------ the fault window

    def stream(self, stop: threading.Event, rate: float) -> None:
        next_at = time.time()
        while not stop.is_set():
            self.submit("stream")
            next_at += 1 / rate
            stop.wait(max(0.0, next_at - time.time()))

    def holders(self) -> dict[int, int]:
        """pid -> running noop attempts it holds now."""
        rows = self.pg.query_json(
            "SELECT lease_owner AS owner, count(*)::int AS n FROM stage_attempts"
            " WHERE state = 'running' AND kind = 'noop' GROUP BY lease_owner")
        return {pid_of(r["owner"]): r["n"] for r in rows}

    def kill_mid_stage(self) -> None:
        """kill -9 of a worker that holds a running noop attempt (waiting up to 10 s for one)."""
        deadline = time.time() + 10
        while True:
            live = [p for p in self.active if p.alive()]
            held = self.holders()
            candidates = [p for p in live if held.get(p.proc.pid)]
            if candidates or time.time() > deadline or not live:
                break
            time.sleep(0.2)
        if not live:
            self.kills.append({"t": self.t(), "skipped": "no live worker"})
            return
        victim = self.rng.choice(candidates or live)
        delay = round(self.rng.uniform(*self.args.restart_delay), 2)
        n = held.get(victim.proc.pid, 0)
        pid = self.supervisor.kill(victim, delay)
        self.kills.append({"t": self.t(), "process": victim.name, "pid": pid, "running_attempts_held": n,
                           "restart_after_s": delay, "workers_live": len(live)})
        self.log(f"kill -9 {victim.name} (holding {n} running attempts)")

    def ray_trial(self, j: int) -> None:
        """A Ray run; once its job's entrypoint runs, kill -9 the worker that owns the attempt and
        time until another watcher adopts it (the lease owner changes, the epoch moves on)."""
        a = self.args
        key = self.submit("ray", wait_acked=True)
        trial: dict = {"key": key, "t": self.t()}
        self.trials.append(trial)
        deadline = time.time() + a.ray_timeout
        row = None
        while time.time() < deadline:
            rows = self.pg.query_json(
                "SELECT a.id::text AS id, a.state, a.lease_owner AS owner FROM stage_attempts a"
                f" JOIN runs r ON r.id = a.run_id WHERE r.idempotency_key = '{key}' AND a.kind = 'ray'"
                " ORDER BY a.attempt DESC LIMIT 1")
            row = rows[0] if rows else None
            if row and row["state"] not in ("queued", "running"):
                trial["error"] = f"the attempt ended ({row['state']}) before its job was seen running"
                break
            if row and row["state"] == "running" and any(self.markers.glob(row["id"] + ".*")):
                break
            time.sleep(0.1)
        else:
            trial["error"] = f"the Ray job's entrypoint did not start within {a.ray_timeout:.0f}s"
        if "error" in trial:
            self.log(f"ray trial {j}: {trial['error']}")
            return
        victim = next((p for p in self.active if p.alive() and pid_of(row["owner"]) == p.proc.pid), None)
        if victim is None:
            trial["error"] = f"the attempt's owner {row['owner']} is no live worker of this test"
            return
        t_kill = time.time()
        # Restarted only after a lease and then some: the adopter is another, surviving worker.
        self.supervisor.kill(victim, a.lease_seconds + 5)
        trial["killed_at"] = t_kill
        expires = float(self.pg.scalar(
            f"SELECT extract(epoch FROM lease_expires_at)::float8 FROM stage_attempts WHERE id = '{row['id']}'"))
        trial.update(attempt_id=row["id"], killed=victim.name, killed_owner=row["owner"],
                     lease_left_at_kill_s=round(expires - t_kill, 2))
        self.log(f"ray trial {j}: kill -9 {victim.name}, owner of running Ray attempt {row['id']}")
        deadline = time.time() + a.lease_seconds + a.ray_timeout
        while time.time() < deadline:
            rows = self.pg.query_json(
                "SELECT new_owner AS owner, extract(epoch FROM at)::float8 AS at FROM scale_lease_log"
                f" WHERE attempt_id = '{row['id']}' AND old_state = 'running' AND new_state = 'running'"
                f" AND new_owner IS DISTINCT FROM '{row['owner']}' ORDER BY at LIMIT 1")
            if rows:
                at = rows[0]["at"]
                trial.update(adopted=True, adopter=self.slot_of(rows[0]["owner"]),
                             kill_to_adoption_s=round(at - t_kill, 3),
                             adoption_after_lease_expiry_s=round(at - expires, 3))
                self.log(f"ray trial {j}: adopted by {trial['adopter']} {trial['kill_to_adoption_s']}s after the kill")
                return
            time.sleep(0.25)
        trial["adopted"] = False
        self.log(f"ray trial {j}: not adopted within {a.lease_seconds + a.ray_timeout:.0f}s")

    def scale_in(self) -> None:
        """SIGTERM (as a scale-in does) to the newest active worker; it is not started again."""
        p = self.active.pop()
        self.supervisor.retire(p)
        self.note("scaled", workers=len(self.active), stopped=p.name)
        self.log(f"scaled in to {len(self.active)} workers ({p.name} stopped)")

    def group_view(self) -> tuple[bool, dict]:
        """Whether the pool's consumer group is stable: every active worker is up and holds its
        assignment (no rebalance under way), and together they hold each partition once."""
        group, view, held = f"{PREFIX}.worker.{POOL}", {}, []
        for p in self.active:
            parts = p.assignments().get(group) if p.alive() else None
            view[p.name] = sorted(parts) if parts is not None else ("rebalancing" if p.alive() else "down")
            held += parts or []
        ok = all(isinstance(v, list) for v in view.values()) and sorted(held) == sorted(set(held)) \
            and len(held) == self.partitions
        return ok, view

    def await_group(self, before: str) -> None:
        """Waits (bounded) until the pool's consumer group is stable, so membership changes never
        overlap: Tansu can wedge a group whose members leave while others join (README, Known
        limits), which Apache Kafka does not; --no-group-gate skips the wait."""
        if self.args.no_group_gate:
            return
        start = time.time()
        while True:
            ok, view = self.group_view()
            if ok or time.time() - start > self.args.group_timeout:
                break
            time.sleep(0.3)
        entry = {"t": self.t(), "before": before, "stable": ok, "waited_s": round(time.time() - start, 1)}
        if not ok:
            entry["view"] = view
            self.log(f"consumer group not stable after {self.args.group_timeout:.0f}s (before {before}): {view}")
        self.gates.append(entry)

    def window(self, rate: float) -> None:
        """Runs stream in while, one membership change at a time, workers are killed mid-stage,
        Ray attempts lose their worker, and the pool scales in to 1; for at least --window seconds."""
        a = self.args
        actions = ["kill"] * a.kills + ["ray"] * a.ray_trials
        self.rng.shuffle(actions)
        actions += ["scale_in"] * (len(self.active) - 1)
        self.log(f"fault window: {rate:.2f} runs/s, {a.kills} kills, {a.ray_trials} Ray trials, "
                 f"scale in {len(self.active)} -> 1; seed {self.seed}")
        stop = threading.Event()
        streamer = threading.Thread(target=self.stream, args=(stop, rate), name="stream", daemon=True)
        start = time.time()
        streamer.start()
        trial = 0
        try:
            for action in actions:
                self.await_group(action)
                time.sleep(self.rng.uniform(0.5, 2.5))  # work piles up on the new assignment
                if action == "kill":
                    self.kill_mid_stage()
                elif action == "ray":
                    self.ray_trial(trial)
                    trial += 1
                else:
                    self.scale_in()
            self.await_group("the end of the window")
            delay = start + a.window - time.time()
            if delay > 0:
                time.sleep(delay)
        finally:
            stop.set()
            streamer.join(timeout=10)
        self.sends_done()
        self.report["window_s"] = round(time.time() - start, 1)

    def settle(self) -> dict:
        a = self.args
        start = time.time()
        last_change, last_ended = time.time(), -1
        while True:
            runs = self.runs()
            acked = [k for k in self.keys() if self.sent[k]["acked"]]
            ended = sum(1 for k in acked if runs.get(k, {}).get("state") in TERMINAL)
            if ended != last_ended:
                last_change, last_ended = time.time(), ended
            state = {"runs": len(acked), "ended": ended, "after_s": round(time.time() - start, 1)}
            if ended == len(acked):
                return {"settled": True, **state}
            if time.time() - start > a.settle_timeout or time.time() - last_change > a.stall_timeout:
                return {"settled": False, **state}
            time.sleep(2)

    # ------------------------------------------------------------------ checks

    def evaluate(self, settle: dict) -> None:
        a, pg = self.args, self.pg
        runs = self.runs()
        unsent = {k: e.get("error") for k, e in self.sent.items() if not e["acked"]}
        self.check("every_request_acked", not unsent, len(self.sent) - len(unsent), dict(list(unsent.items())[:5]))
        acked = [k for k, e in self.sent.items() if e["acked"]]
        missing = [k for k in acked if k not in runs]
        bad = [{"key": k, "state": runs[k]["state"], "reason": runs[k]["reason"]}
               for k in acked if k in runs and runs[k]["state"] != "succeeded"]
        by_kind: dict = {}
        for k in acked:
            kind = self.sent[k]["kind"]
            by_kind[kind] = by_kind.get(kind, 0) + 1
        self.report["runs"] = {"submitted": len(self.sent), "by_kind": by_kind, "succeeded": len(acked) - len(
            missing) - len(bad)}
        self.check("every_run_succeeded", acked and not missing and not bad, f"{len(acked) - len(missing) - len(bad)}"
                   f"/{len(acked)}", {"missing": missing[:10], "not_succeeded": bad[:10]} if missing or bad else None)
        self.check("settled_in_time", settle["settled"], settle)

        # Exactly once. A claim is the conditional UPDATE queued -> running: one per attempt.
        twice = pg.query_json("SELECT attempt_id::text AS attempt, count(*)::int AS claims FROM scale_lease_log"
                              " WHERE old_state = 'queued' AND new_state = 'running' GROUP BY attempt_id"
                              " HAVING count(*) > 1 LIMIT 10")
        self.check("no_attempt_claimed_twice", not twice, len(twice), twice)
        # A noop attempt counts each execution (fenced by its lease epoch) in `executions`.
        over = pg.query_json("SELECT id::text, stage, attempt, state, executions FROM stage_attempts"
                             " WHERE kind = 'noop' AND (executions > 1 OR (state = 'succeeded' AND executions <> 1))"
                             " LIMIT 10")
        self.check("no_attempt_executed_twice", not over, len(over), over)
        doubled = pg.query_json("SELECT run_id::text, stage, count(*)::int AS n FROM stage_attempts"
                                " WHERE state = 'succeeded' GROUP BY run_id, stage HAVING count(*) > 1 LIMIT 10")
        self.check("no_stage_succeeded_twice", not doubled, len(doubled), doubled)
        if a.ray_trials > 0:
            self.check_ray()

        # Work spread: in each throughput batch every worker claimed at least min-share of a fair share.
        thin = []
        for b in self.batches:
            fair = sum(b["attempts_claimed_per_worker"].values()) / b["workers"]
            for name, n in b["attempts_claimed_per_worker"].items():
                if n < max(1.0, a.min_share * fair):
                    thin.append({"workers": b["workers"], "worker": name, "claimed": n, "fair_share": round(fair, 1)})
        self.check("work_spread_in_batches", self.batches and not thin, len(thin), thin[:10])
        one = next((b["runs_per_s"] for b in self.batches if b["workers"] == 1), 0)
        most = next((b["runs_per_s"] for b in self.batches if b["workers"] == a.max_workers), 0)
        speedup = round(most / one, 2) if one else None
        if a.min_speedup > 0 and a.max_workers > 1:
            self.check("throughput_scales", speedup is not None and speedup >= a.min_speedup, speedup,
                       {"runs_per_s": {b["workers"]: b["runs_per_s"] for b in self.batches},
                        "min_speedup": a.min_speedup})
        unstable = [g for g in self.gates if not g["stable"]]
        self.check("pool_group_rebalanced", not unstable, f"{len(self.gates) - len(unstable)}/{len(self.gates)}",
                   unstable[:5] or None)
        late = [p for p in self.probes if not p["ok"]]
        self.check("every_new_worker_claimed", not late, len(self.probes) - len(late), late or None)
        per_worker: dict = {p.name: 0 for p in self.workers}
        for c in self.claims():
            per_worker[c["worker"]] = per_worker.get(c["worker"], 0) + 1
        self.report["attempts_claimed_per_worker_total"] = per_worker
        idle = [name for name in per_worker if per_worker[name] == 0]
        self.check("every_worker_claimed", not idle, len(per_worker) - len(idle), idle or None)

        # The test did what it says: scaled 1 -> max -> 1, killed workers mid-stage.
        counts = [e["workers"] for e in self.timeline if e["event"] == "scaled"]
        expected = self.scale_plan() + list(range(self.args.max_workers - 1, 0, -1))
        self.check("scaled_out_and_in", counts == expected, counts,
                   None if counts == expected else {"expected": expected})
        # A kill landed mid-stage when the sweeper later ended attempts of that instance as lost.
        lost = {pid_of(r["owner"]): r["n"] for r in pg.query_json(
            "SELECT lease_owner AS owner, count(*)::int AS n FROM stage_attempts WHERE state = 'lost'"
            " GROUP BY lease_owner")}
        done = [k for k in self.kills if "pid" in k]
        for k in done:
            k["attempts_lost"] = lost.get(k["pid"], 0)
        mid = sum(1 for k in done if k["attempts_lost"])
        self.check("workers_killed_mid_stage", len(done) == a.kills and (mid > 0 or a.kills == 0),
                   f"{mid} of {len(done)} kills ended a running attempt (lost); {a.kills} planned")
        exits = self.supervisor.unexpected_exits
        self.check("no_crashes_or_error_exits", not exits, len(exits),
                   [{k: x.get(k) for k in ("process", "t", "returncode", "signal", "log_tail", "backtrace")}
                    for x in exits[:5]] or None)
        parked = "failed_at IS NULL" if "failed_at" in pg.columns("outbox") else "true"
        unpublished = int(pg.scalar(f"SELECT count(*) FROM outbox WHERE published_at IS NULL AND {parked}"))
        self.check("outbox_drained", unpublished == 0, unpublished)
        self.report["database"] = {
            "runs_by_state": {r["state"]: r["n"] for r in pg.query_json(
                "SELECT state, count(*)::int AS n FROM runs GROUP BY state")},
            "attempts_by_state": {f"{r['kind']}/{r['state']}": r["n"] for r in pg.query_json(
                "SELECT kind, state, count(*)::int AS n FROM stage_attempts GROUP BY kind, state")},
            "adoptions": int(pg.scalar("SELECT count(*) FROM scale_lease_log WHERE old_state = 'running'"
                                       " AND new_state = 'running'")),
        }

    def check_ray(self) -> None:
        """Each Ray attempt is one Ray job: its submission id is the attempt id, Ray holds exactly one
        job under it, and its entrypoint ran once (one marker file). A killed trial's attempt was
        adopted by another worker, succeeded, and was the stage's only attempt."""
        pg = self.pg
        attempts = pg.query_json(
            "SELECT a.id::text AS id, a.run_id::text AS run, a.state, a.ray_submission_id AS sid,"
            " a.lease_owner AS owner,"
            " extract(epoch FROM a.finished_at)::float8 AS finished,"
            " (SELECT count(*)::int FROM stage_attempts b WHERE b.run_id = a.run_id AND b.stage = a.stage) AS tries"
            " FROM stage_attempts a WHERE a.kind = 'ray'")
        runs = {a["run"] for a in attempts}
        try:
            with urllib.request.urlopen(f"{self.args.ray_address}/api/jobs/", timeout=30) as r:
                jobs = [j for j in json.loads(r.read()) if (j.get("metadata") or {}).get("baton_run_id") in runs]
        except Exception as e:  # noqa: BLE001
            self.check("ray_one_job_per_attempt", False, None, {"error": f"cannot list Ray jobs: {e!r:.300}"})
            return
        self.ray_jobs = [j["submission_id"] for j in jobs]
        by_sid: dict = {}
        for j in jobs:
            by_sid[j["submission_id"]] = by_sid.get(j["submission_id"], 0) + 1
        markers: dict = {}
        for f in self.markers.iterdir():
            markers[f.name.split(".")[0]] = markers.get(f.name.split(".")[0], 0) + 1
        ids = {x["id"] for x in attempts}
        wrong = []
        for x in attempts:
            ran = markers.get(x["id"], 0)
            if x["sid"] is not None and (x["sid"] != x["id"] or by_sid.get(x["sid"]) != 1):
                wrong.append({"attempt": x["id"], "submission_id": x["sid"], "ray_jobs": by_sid.get(x["sid"], 0)})
            elif ran > 1 or (x["state"] == "succeeded" and ran != 1):
                wrong.append({"attempt": x["id"], "state": x["state"], "entrypoint_runs": ran})
        strays = [s for s in by_sid if s not in ids]
        self.report["ray"] = {"attempts": len(attempts), "jobs": len(jobs), "entrypoint_runs": sum(markers.values())}
        self.check("ray_one_job_per_attempt", attempts and not wrong and not strays,
                   f"{len(attempts) - len(wrong)}/{len(attempts)}",
                   {"wrong": wrong[:10], "jobs_of_no_attempt": strays[:10]} if wrong or strays else None)
        by_id = {x["id"]: x for x in attempts}
        bad = []
        for t in self.trials:
            x = by_id.get(t.get("attempt_id"))
            if x and x["finished"] and "killed_at" in t:
                t["kill_to_outcome_s"] = round(x["finished"] - t["killed_at"], 2)
            if not t.get("adopted") or t["adopter"] == t["killed"] or not x or x["state"] != "succeeded" \
                    or x["tries"] != 1 or pid_of(x["owner"]) == pid_of(t["killed_owner"]):
                bad.append({**t, "final": x})
        self.check("ray_attempts_adopted_not_rerun", self.trials and not bad,
                   f"{len(self.trials) - len(bad)}/{len(self.trials)}", bad or None)

    # ------------------------------------------------------------------ main

    def scale_plan(self) -> list[int]:
        """Worker counts of the throughput batches: 1, 2, 4, ... up to --max-workers."""
        counts, n = [], 1
        while n < self.args.max_workers:
            counts.append(n)
            n *= 2
        return counts + [self.args.max_workers]

    def figures(self) -> dict:
        base = next((b["runs_per_s"] for b in self.batches if b["workers"] == 1), None)
        adoption = [t["kill_to_adoption_s"] for t in self.trials if t.get("adopted")]
        return {
            "pipeline": f"{self.args.stages} noop stages of {self.args.stage_sleep} each (a chain), pool {POOL}",
            "worker_concurrency": self.args.worker_concurrency,
            "runs_per_s": {str(b["workers"]): b["runs_per_s"] for b in self.batches},
            "speedup_vs_1_worker": {str(b["workers"]): round(b["runs_per_s"] / base, 2)
                                    for b in self.batches if base},
            "attempts_claimed_per_worker": {str(b["workers"]): b["attempts_claimed_per_worker"] for b in self.batches},
            "batches": self.batches,
            "ray_kill_to_adoption_s": {
                **spread(adoption), "lease_s": self.args.lease_seconds, "watcher_pass_s": self.args.sweep_seconds,
                "lease_left_at_kill_s": spread([t["lease_left_at_kill_s"] for t in self.trials
                                                if "lease_left_at_kill_s" in t]),
                "after_lease_expiry_s": spread([t["adoption_after_lease_expiry_s"] for t in self.trials
                                                if t.get("adopted")]),
                "kill_to_outcome_s": spread([t["kill_to_outcome_s"] for t in self.trials if "kill_to_outcome_s" in t]),
            },
        }

    def steps(self) -> None:
        timing = self.report["timing"]
        self.setup()
        timing["setup_s"] = round(time.time() - self.started, 1)
        for count in self.scale_plan():
            self.scale_out(count)
            self.batch()
        timing["batches_done_s"] = round(time.time() - self.started, 1)
        one = next((b["runs_per_s"] for b in self.batches if b["workers"] == 1), 0)
        self.window(self.args.stream_rate or min(max(0.5 * one, 0.3), 10))
        self.log("settling")
        settle = self.settle()
        timing["settle_s"] = settle["after_s"]
        self.log(f"settled: {settle}")
        self.evaluate(settle)

    def summarize(self, rc: int) -> None:
        self.report.update(figures=self.figures(), kills=self.kills, ray_trials=self.trials, probes=self.probes,
                           group_waits=self.gates, timeline=self.timeline)
        if self.supervisor:
            self.report["processes"] = {
                p.name: {"roles": p.roles, "starts": p.starts, "pids": p.pids, "log": str(p.logfile),
                         **({"log_tail": tail(p.logfile, 8)} if rc == 2 else {})}
                for p in self.supervisor.processes}

    def teardown(self, keep_data: bool) -> None:
        self.sender.shutdown(wait=False, cancel_futures=True)
        super().teardown(keep_data)
        # The shared Ray head keeps every job it ran: forget this test's (ended) ones.
        for sid in getattr(self, "ray_jobs", []):
            try:
                req = urllib.request.Request(f"{self.args.ray_address}/api/jobs/{sid}", method="DELETE")
                urllib.request.urlopen(req, timeout=10).close()
            except Exception:  # noqa: BLE001 - best effort
                pass


def main() -> int:
    return run_suite(ScaleTest(parse_args()))


if __name__ == "__main__":
    sys.exit(main())
