"""End to end, the platform retrains itself: a degraded served model's accuracy fires the alert,
Slack hears of it, Alertmanager calls Baton's hook, one retraining run starts (however often
Alertmanager sends the alert again), and its gate decision and end reach Slack.

Real pieces throughout: the stack's PostgreSQL and broker, `baton serve` (.build/debug/baton)
with a database and topic prefix of its own, and Prometheus plus Alertmanager of the test's own
(tests/test_alerting_e2e.py's fixture pattern: `scripts/stack up` with only those two services,
in a state dir and on ports of its own), Alertmanager routing `action=retrain` alerts to
`POST /v1/hooks/alertmanager` with an API token, and re-sending every 4 s while the alert fires.
Needs the running stack and the built binary (`make test` provides both). About 40 s.
"""

import json
import os
import secrets
import subprocess
import time
import urllib.parse

import pytest

from slack_receiver import SlackReceiver
from test_alerting_e2e import ALERT, MODEL, STACK, MetricsEndpoint, eventually, free_port, rules_with_short_for
from test_deploy_manifests import ROOT

BATON = os.environ.get("BATON_BIN") or str(ROOT / ".build" / "debug" / "baton")

PIPELINE = f"""
apiVersion: baton/v1
kind: Pipeline
metadata: {{name: retrain-loop}}
params:
  model: {{type: string, default: none}}
triggers:
  - name: on-accuracy
    alert: {ALERT}
    labels: {{action: retrain}}
    paramsFromLabels: {{model: model}}
notify:
  - name: team
    slack: {{urlFrom: BATON_SLACK_WEBHOOK_URL}}
    on: [gate.passed, gate.failed, run.succeeded]
stages:
  - {{name: train, kind: noop, noop: {{metrics: {{accuracy: 0.93}}}}}}
  - name: gate
    kind: gate
    needs: [train]
    gate: {{condition: "stages.train.metrics.accuracy > 0.85"}}
"""


def sql(url, query):
    done = subprocess.run(["psql", url, "-Atc", query], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture
def baton(tmp_path):
    """(environment, API URL, token) of a `baton serve` on a database and topics of its own."""
    if not os.access(BATON, os.X_OK):
        pytest.fail(f"no baton binary at {BATON}: swift build first (make test does)")
    base = os.environ["BATON_DATABASE_URL"]
    name = f"baton_test_loop_{secrets.token_hex(4)}"
    sql(base, f"CREATE DATABASE {name}")
    parsed = urllib.parse.urlsplit(base)
    url = urllib.parse.urlunsplit(parsed._replace(path=f"/{name}"))
    api_port = free_port()
    env = dict(os.environ, BATON_DATABASE_URL=url, BATON_TOPIC_PREFIX=f"loop{secrets.token_hex(4)}",
               BATON_API_ADDRESS=f"127.0.0.1:{api_port}", BATON_METRICS_ADDRESS="off", BATON_MLFLOW_URI="",
               BATON_LOG_LEVEL="info", BATON_ARTIFACT_ROOT=f"file://{tmp_path / 'artifacts'}")
    run = lambda *args: subprocess.run([BATON, *args], env=env, capture_output=True, text=True, timeout=60)  # noqa: E731
    assert run("migrate").returncode == 0
    spec = tmp_path / "pipeline.yaml"
    spec.write_text(PIPELINE)
    applied = run("pipelines", "apply", str(spec))
    assert applied.returncode == 0, applied.stdout + applied.stderr
    made = run("tokens", "create", "--name", "alertmanager", "--scopes", "runs:submit")
    assert made.returncode == 0, made.stderr
    token = made.stdout.split()[-1]
    receiver = SlackReceiver().start()
    env["BATON_SLACK_WEBHOOK_URL"] = receiver.url("/services/T0/B0/baton")
    log = open(tmp_path / "serve.log", "w")
    serve = subprocess.Popen([BATON, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield env, f"http://127.0.0.1:{api_port}", token, url, receiver
    finally:
        serve.terminate()
        serve.wait(timeout=60)
        receiver.stop()
        sql(base, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_a_degraded_model_is_retrained_once_and_slack_hears_each_step(baton, tmp_path):
    env, api, token, database, slack = baton
    state = tmp_path / "alerting"
    stack_env = dict(
        os.environ, BATON_STATE_DIR=str(state), BATON_STACK_SERVICES="alertmanager prometheus",
        BATON_ALERTMANAGER_PORT=str(free_port()), BATON_PROMETHEUS_PORT=str(free_port()),
        BATON_PROMETHEUS_RULES=str(rules_with_short_for(tmp_path / "rules.yml")),
        BATON_SLACK_WEBHOOK_URL=slack.url("/services/T0/B0/alertmanager"),
        BATON_ALERTMANAGER_HOOK_URL=f"{api}/v1/hooks/alertmanager", BATON_ALERTMANAGER_HOOK_TOKEN=token,
        BATON_ALERTMANAGER_GROUP_WAIT="1s", BATON_ALERTMANAGER_GROUP_INTERVAL="2s",
        BATON_ALERTMANAGER_REPEAT_INTERVAL="4s", BATON_METRICS_ADDRESS="off")
    metrics = MetricsEndpoint()
    try:
        up = subprocess.run([str(STACK), "up"], env=stack_env, capture_output=True, text=True, timeout=120)
        assert up.returncode == 0, up.stderr[-3000:]
        exports = subprocess.run([str(STACK), "env"], env=stack_env, capture_output=True, text=True).stdout
        settings = dict(line.removeprefix("export ").split("=", 1) for line in exports.splitlines())
        targets = settings["BATON_PROMETHEUS_TARGETS_DIR"].strip("'")
        labels = {"model": MODEL}
        metrics.set("baton_model_live_accuracy", labels, 0.5)
        with open(os.path.join(targets, "loop.json"), "w") as out:
            json.dump([{"targets": [metrics.address]}], out)
        dropped = time.time()

        firing = slack.wait_for(lambda m: f"[FIRING:1] {ALERT}" in m.text, timeout=60)
        runs = eventually("the retraining run", 60, lambda: sql(
            database, "SELECT id FROM runs WHERE labels->>'trigger' = 'on-accuracy'") or None)
        started = float(sql(database, "SELECT extract(epoch FROM min(started_at)) FROM stage_attempts WHERE stage = 'train'")
                         or "nan")
        # Alertmanager sends the firing alert again every 4 s: three more notifications, still one run.
        eventually("three re-sent notifications", 40, lambda: int(sql(
            database, "SELECT count(*) FROM audit_log WHERE action = 'hooks.alertmanager'")) >= 4)
        assert sql(database, "SELECT count(*) FROM runs") == "1"
        assert sql(database, f"SELECT params->>'model' FROM runs WHERE id = '{runs}'") == MODEL
        eventually("the run ending", 60, lambda: sql(database, f"SELECT state FROM runs WHERE id = '{runs}'") == "succeeded")
        gate = slack.wait_for(lambda m: "Baton gate.passed" in m.text, timeout=30)
        end = slack.wait_for(lambda m: "Baton run.succeeded" in m.text, timeout=30)
        assert gate.path == end.path == "/services/T0/B0/baton"
        assert "pipeline retrain-loop" in gate.text
        print(f"\nfigures: accuracy 0.5 -> Slack alert {firing.received_at - dropped:.1f} s, "
              f"-> retraining run's first stage started {started - dropped:.1f} s "
              f"(scrape/eval 2 s, for 4 s, group_wait 1 s)")
    finally:
        metrics.close()
        subprocess.run([str(STACK), "down"], env=stack_env, capture_output=True, text=True, timeout=120)
