"""End to end: a metric crosses a rule's threshold, and Slack hears of it.

The test starts its own Alertmanager and Prometheus with the stack's own scripts (scripts/stack up,
services alertmanager and prometheus only, in a state dir and on ports of its own, so the shared
stack is not touched), with BATON_SLACK_WEBHOOK_URL pointing at a local recording receiver
(tests/slack_receiver.py). It serves its own /metrics with the served model's live accuracy and
registers it the way any test can, by writing a file_sd target file. Then:

  1. accuracy 0.95: Prometheus scrapes it and evaluates the rule, which stays inactive; nothing
     reaches Slack;
  2. accuracy 0.50: BatonModelAccuracyLow fires and Alertmanager posts it to the webhook, within a
     bounded time (printed as a figure);
  3. accuracy 0.95 again: the alert resolves and Slack gets the [RESOLVED] message.

The rules are deploy/monitoring/prometheus/baton-rules.yml with one change: the accuracy rule's
`for:` (5 minutes in production) becomes a few seconds; its expression is untouched. Alertmanager's
group_wait and group_interval are shortened through the stack's own settings.

Needs the installs of `scripts/stack install` (Debian's prometheus and prometheus-alertmanager),
no running stack. About 20-30 s.
"""

import datetime
import http.server
import json
import os
import pathlib
import re
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request

import pytest
import yaml

from slack_receiver import SlackReceiver
from test_deploy_manifests import ROOT
from test_monitoring_rules import RULES

STACK = ROOT / "scripts" / "stack"
ALERT = "BatonModelAccuracyLow"
MODEL = "korean-llm"
TEST_FOR = "4s"
# Every wait has a bound: scrape and evaluation every 2 s, `for` 4 s, group_wait 1 s.
FIRING_WITHIN = 30
_open = urllib.request.build_opener(urllib.request.ProxyHandler({})).open


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class MetricsEndpoint:
    """GET /metrics in Prometheus' text format, with gauges the test sets."""

    def __init__(self):
        self.values = {}
        endpoint = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                lines = []
                for (name, labels), value in sorted(endpoint.values.items()):
                    rendered = ",".join(f'{key}="{val}"' for key, val in labels)
                    lines += [f"# TYPE {name} gauge", f"{name}{{{rendered}}} {value}"]
                body = ("\n".join(lines) + "\n").encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def address(self):
        return f"127.0.0.1:{self.server.server_address[1]}"

    def set(self, name, labels, value):
        self.values[(name, tuple(sorted(labels.items())))] = value

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def get_json(base, path, **params):
    query = f"?{urllib.parse.urlencode(params)}" if params else ""
    with _open(f"{base}{path}{query}", timeout=5) as response:
        return json.loads(response.read())


def eventually(what, timeout, check, interval=0.25):
    """check()'s first truthy result within `timeout` seconds; fails naming `what` otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {timeout}s")
        time.sleep(interval)


def rules_with_short_for(path):
    """The production rules, the accuracy rule's `for:` made TEST_FOR; nothing else changes."""
    document = yaml.safe_load(RULES.read_text())
    changed = 0
    for group in document["groups"]:
        for rule in group["rules"]:
            if rule.get("alert") == ALERT:
                rule["for"] = TEST_FOR
                changed += 1
    assert changed == 1
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


@pytest.fixture
def alerting_stack(tmp_path):
    """(Prometheus URL, targets dir, Slack receiver) of a stack of alertmanager + prometheus of the
    test's own; `scripts/stack down` afterwards."""
    receiver = SlackReceiver().start()
    state = tmp_path / "stack"
    env = dict(
        os.environ,
        BATON_STATE_DIR=str(state),
        BATON_STACK_SERVICES="alertmanager prometheus",
        BATON_ALERTMANAGER_PORT=str(free_port()),
        BATON_PROMETHEUS_PORT=str(free_port()),
        BATON_PROMETHEUS_RULES=str(rules_with_short_for(tmp_path / "rules.yml")),
        BATON_SLACK_WEBHOOK_URL=receiver.url("/services/T0TEST/B0TEST/not-a-real-secret"),
        BATON_ALERTMANAGER_GROUP_WAIT="1s",
        BATON_ALERTMANAGER_GROUP_INTERVAL="2s",
        BATON_METRICS_ADDRESS="off",  # no `baton serve` target: only the test's own
    )
    env.pop("BATON_ALERTMANAGER_HOOK_URL", None)
    try:
        up = subprocess.run([str(STACK), "up"], env=env, capture_output=True, text=True, timeout=120)
        assert up.returncode == 0, f"scripts/stack up failed:\n{up.stderr[-3000:]}"
        status = subprocess.run([str(STACK), "status"], env=env, capture_output=True, text=True, timeout=30)
        assert status.returncode == 0, status.stdout + status.stderr
        assert "alertmanager up" in status.stdout and "to Slack" in status.stdout, status.stdout
        exports = subprocess.run([str(STACK), "env"], env=env, capture_output=True, text=True, timeout=30).stdout
        settings = dict(line.removeprefix("export ").split("=", 1) for line in exports.splitlines())
        yield settings["BATON_PROMETHEUS_URL"], pathlib.Path(settings["BATON_PROMETHEUS_TARGETS_DIR"]), receiver
    finally:
        subprocess.run([str(STACK), "down"], env=env, capture_output=True, text=True, timeout=120)
        receiver.stop()


def alert_state(prometheus):
    """The state of the rule ALERT in Prometheus (inactive, pending, firing) and when it was last
    evaluated (seconds since the epoch), as GET /api/v1/rules reports them."""
    for group in get_json(prometheus, "/api/v1/rules")["data"]["groups"]:
        for rule in group["rules"]:
            if rule.get("name") == ALERT:
                # RFC 3339 with up to nanoseconds; Python reads microseconds at most.
                stamp = re.sub(r"(\.\d{1,6})\d*", r"\1", rule["lastEvaluation"]).replace("Z", "+00:00")
                return rule["state"], datetime.datetime.fromisoformat(stamp).timestamp()
    pytest.fail(f"Prometheus has no rule {ALERT}")


def test_a_low_accuracy_reaches_slack_and_resolves(alerting_stack):
    prometheus, targets, slack = alerting_stack
    metrics = MetricsEndpoint()
    try:
        metrics.set("baton_model_live_accuracy", {"model": MODEL}, 0.95)
        (targets / "e2e-test.json").write_text(json.dumps([{"targets": [metrics.address]}]))

        # 1. Healthy: scraped, evaluated, inactive, and Slack hears nothing.
        def scraped_value():
            result = get_json(prometheus, "/api/v1/query", query=f'baton_model_live_accuracy{{model="{MODEL}"}}')
            return result["data"]["result"]

        sample = eventually("Prometheus scraping the test's /metrics", 30, scraped_value)
        assert float(sample[0]["value"][1]) == 0.95
        seen = sample[0]["value"][0]  # the query's time: an evaluation after it sees the sample
        eventually("an evaluation of the rules after the first scrape", 15, lambda: alert_state(prometheus)[1] > seen)
        assert alert_state(prometheus)[0] == "inactive"
        assert [m for m in slack.messages if ALERT in m.text] == []

        # 2. The accuracy drops: the alert fires and Slack gets it.
        metrics.set("baton_model_live_accuracy", {"model": MODEL}, 0.5)
        dropped = time.time()
        firing = slack.wait_for(lambda m: f"[FIRING:1] {ALERT}" in m.text, timeout=FIRING_WITHIN)
        print(f"\nfigure: accuracy set to 0.5 -> Slack message in {firing.received_at - dropped:.1f} s "
              f"(scrape/eval interval 2 s, for {TEST_FOR}, group_wait 1 s)")
        assert firing.path == "/services/T0TEST/B0TEST/not-a-real-secret"
        attachment = firing.body["attachments"][0]
        assert attachment["title"] == f"[FIRING:1] {ALERT}"
        assert attachment["color"] == "warning"
        assert f"Model {MODEL}'s live accuracy is 0.50" in attachment["text"]
        assert "baton runs list" in attachment["text"], "the message carries the runbook text"
        assert alert_state(prometheus)[0] == "firing"

        # 3. Recovered: the alert resolves, and Slack is told.
        metrics.set("baton_model_live_accuracy", {"model": MODEL}, 0.95)
        recovered = time.time()
        resolved = slack.wait_for(lambda m: f"[RESOLVED] {ALERT}" in m.text, timeout=FIRING_WITHIN)
        print(f"figure: accuracy back to 0.95 -> [RESOLVED] in {resolved.received_at - recovered:.1f} s")
        assert resolved.body["attachments"][0]["color"] == "good"
        # Nothing else was sent: no other alert fired on this stack.
        assert all(ALERT in m.text for m in slack.messages), [m.text.splitlines()[0] for m in slack.messages]
    finally:
        metrics.close()
