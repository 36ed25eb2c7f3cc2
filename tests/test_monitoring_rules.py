"""Baton's alert rules (deploy/monitoring/): promtool accepts them, their unit tests pass, every
alert is tested both firing and not firing (and its test notices when the rule stops firing), every
alert says how bad it is and what to do, and the PrometheusRule and the dashboards are what
deploy/monitoring/generate.py writes from their sources.

promtool is Debian's (package `prometheus`, which scripts/stack installs): BATON_PROMTOOL, else
promtool on PATH. Which metrics the rules may name: test_monitoring_metrics.py.
"""

import copy
import functools
import os
import shutil
import subprocess
import sys

import pytest
import yaml

from test_deploy_manifests import DEPLOY, load_all

MONITORING = DEPLOY / "monitoring"
RULES = MONITORING / "prometheus" / "baton-rules.yml"
RULE_TESTS = MONITORING / "prometheus" / "baton-rules.test.yml"
PROMETHEUS_RULE = MONITORING / "prometheus-rule.yaml"
SEVERITIES = {"critical", "warning"}


@functools.cache
def promtool():
    found = os.environ.get("BATON_PROMTOOL") or shutil.which("promtool")
    if not found:
        pytest.fail("promtool is missing: run `scripts/stack install` (Debian package prometheus) or set BATON_PROMTOOL")
    return found


def run_promtool(*args, cwd=None):
    return subprocess.run([promtool(), *map(str, args)], capture_output=True, text=True, timeout=120, cwd=cwd)


def rule_groups():
    return yaml.safe_load(RULES.read_text())["groups"]


def alerts():
    return [rule for group in rule_groups() for rule in group["rules"] if "alert" in rule]


def alert_names():
    return [rule["alert"] for rule in alerts()]


def test_promtool_accepts_the_rules():
    result = run_promtool("check", "rules", RULES)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alerts())} rules found" in result.stdout


def test_rule_unit_tests_pass():
    result = run_promtool("test", "rules", RULE_TESTS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_the_issue_s_concerns_have_rules():
    # Stuck runs, outbox lag, DLQ growth, consumer lag, mirror lag, failure rate per pipeline,
    # queue wait per pool, the served model's errors, latency, accuracy and drift.
    expected = {
        "BatonRunsStalled", "BatonOutboxLagging", "BatonDeadLettersGrowing", "BatonConsumerLagHigh",
        "BatonMLflowMirrorLagging", "BatonPipelineFailureRateHigh", "BatonQueueWaitHigh", "BatonModelErrorRateHigh",
        "BatonModelLatencyHigh", "BatonModelAccuracyLow", "BatonModelDriftHigh",
    }
    assert expected <= set(alert_names()), sorted(expected - set(alert_names()))
    assert len(alert_names()) == len(set(alert_names())), "an alert name is used twice"


@pytest.mark.parametrize("rule", alerts(), ids=lambda rule: rule["alert"])
def test_every_alert_says_how_bad_and_what_to_do(rule):
    assert rule["labels"].get("severity") in SEVERITIES, f"{rule['alert']}: severity must be one of {SEVERITIES}"
    annotations = rule.get("annotations", {})
    assert set(annotations) == {"summary", "description"}, f"{rule['alert']}: wants summary and description"
    assert len(annotations["summary"]) <= 120, f"{rule['alert']}: a summary is one line (Slack's title)"
    # Runbook-ish: the description explains, and names something to check or run.
    description = annotations["description"]
    assert len(description) >= 150, f"{rule['alert']}: the description should say what it means and what to do"
    assert "check" in description.lower() or "`" in description, f"{rule['alert']}: the description names no action"


def test_retraining_alerts_are_marked_for_baton():
    marked = {rule["alert"] for rule in alerts() if rule["labels"].get("action") == "retrain"}
    assert marked == {"BatonModelAccuracyLow", "BatonModelDriftHigh"}


# --- Coverage of the unit tests ----------------------------------------------------------------


def rule_test_cases(document):
    """(alertname, fires) for every alert_rule_test case of a promtool test document."""
    return [(case["alertname"], bool(case.get("exp_alerts")))
            for test in document["tests"] for case in test.get("alert_rule_test", [])]


def untested(document, names):
    """The alerts of `names` that lack a case where they fire, or one where they do not."""
    cases = set(rule_test_cases(document))
    return sorted(f"{name} ({'firing' if fires else 'not firing'})"
                  for name in names for fires in (True, False) if (name, fires) not in cases)


def test_every_alert_is_tested_firing_and_not_firing():
    assert untested(load_all(RULE_TESTS)[0], alert_names()) == []


def test_the_coverage_check_sees_a_missing_case():
    document = copy.deepcopy(load_all(RULE_TESTS)[0])
    for test in document["tests"]:
        test["alert_rule_test"] = [c for c in test.get("alert_rule_test", []) if
                                   not (c["alertname"] == "BatonRunsStalled" and c.get("exp_alerts"))]
    assert untested(document, alert_names()) == ["BatonRunsStalled (firing)"]


@pytest.mark.parametrize("name", alert_names())
def test_a_rule_that_never_fires_fails_its_unit_test(name, tmp_path):
    """Each alert's firing case really checks it: with its expression replaced by one that never
    fires, `promtool test rules` must fail on that alert."""
    groups = copy.deepcopy(rule_groups())
    for group in groups:
        for rule in group["rules"]:
            if rule.get("alert") == name:
                rule["expr"] = "vector(1) > 1"
    (tmp_path / RULES.name).write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    shutil.copy(RULE_TESTS, tmp_path / RULE_TESTS.name)
    result = run_promtool("test", "rules", RULE_TESTS.name, cwd=tmp_path)
    assert result.returncode != 0, f"the unit tests still pass when {name} never fires"
    assert f"alertname: {name}," in result.stdout + result.stderr


# --- Generated files ---------------------------------------------------------------------------


def test_prometheus_rule_holds_the_plain_rules():
    obj = load_all(PROMETHEUS_RULE)[0]
    assert (obj["apiVersion"], obj["kind"]) == ("monitoring.coreos.com/v1", "PrometheusRule")
    assert obj["spec"]["groups"] == rule_groups(), "prometheus-rule.yaml differs from prometheus/baton-rules.yml"


def test_generated_files_are_up_to_date():
    result = subprocess.run([sys.executable, str(MONITORING / "generate.py"), "--check"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_prometheus_loads_the_operator_s_rules_too(tmp_path):
    """What the operator hands Prometheus (spec.groups as a rules file) passes promtool as well."""
    path = tmp_path / "operator-rules.yml"
    path.write_text(yaml.safe_dump({"groups": load_all(PROMETHEUS_RULE)[0]["spec"]["groups"]}))
    result = run_promtool("check", "rules", path)
    assert result.returncode == 0, result.stdout + result.stderr
