"""The local stack's Alertmanager config (scripts/stack.d/services/alertmanager.sh): Alertmanager's
own amtool accepts it and routes each alert where the settings say. Without
BATON_SLACK_WEBHOOK_URL alerts are dropped; with it they go to Slack; with
BATON_ALERTMANAGER_HOOK_URL the retraining alerts (action=retrain) also go to Baton. Secrets stay
out of the config. The whole path, Prometheus to a Slack receiver: test_alerting_e2e.py.

amtool comes with Debian's prometheus-alertmanager (scripts/stack install).
"""

import os
import shutil
import subprocess

import pytest

from test_deploy_manifests import ROOT

SERVICE = ROOT / "scripts" / "stack.d" / "services" / "alertmanager.sh"
RETRAIN = ["alertname=BatonModelAccuracyLow", "action=retrain", "model=korean-llm", "severity=warning"]
ENGINE = ["alertname=BatonOutboxLagging", "severity=critical"]
SETTINGS = ("BATON_SLACK_WEBHOOK_URL", "BATON_ALERTMANAGER_HOOK_URL", "BATON_ALERTMANAGER_HOOK_TOKEN")


def amtool():
    found = shutil.which("amtool")
    if not found:
        pytest.fail("amtool is missing: run `scripts/stack install` (Debian package prometheus-alertmanager)")
    return found


@pytest.fixture
def config(tmp_path):
    """config(**settings): the path of the config alertmanager.sh writes with those settings."""

    def make(**settings):
        env = {k: v for k, v in os.environ.items() if k not in SETTINGS}
        env.update(settings, STATE_DIR=str(tmp_path))
        script = f'source "{SERVICE}" && alertmanager_config'
        result = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, result.stderr
        path = tmp_path / "alertmanager.yml"
        path.write_text(result.stdout)
        check = subprocess.run([amtool(), "check-config", str(path)], capture_output=True, text=True, timeout=30)
        assert check.returncode == 0, check.stdout + check.stderr
        return path

    return make


def receivers(path, labels):
    result = subprocess.run([amtool(), "config", "routes", "test", f"--config.file={path}", *labels],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_without_a_webhook_alerts_are_dropped(config):
    path = config()
    assert receivers(path, RETRAIN) == "null"
    assert receivers(path, ENGINE) == "null"
    assert "slack_configs" not in path.read_text()


def test_with_a_webhook_every_alert_goes_to_slack(config):
    secret = "https://hooks.slack.com/services/T0/B0/very-secret"
    path = config(BATON_SLACK_WEBHOOK_URL=secret)
    assert receivers(path, RETRAIN) == "slack"
    assert receivers(path, ENGINE) == "slack"
    text = path.read_text()
    assert secret not in text and "api_url_file:" in text
    assert "send_resolved: true" in text


def test_retraining_alerts_also_go_to_baton(config):
    path = config(BATON_SLACK_WEBHOOK_URL="https://hooks.example/x",
                  BATON_ALERTMANAGER_HOOK_URL="http://127.0.0.1:8080/v1/hooks/alertmanager",
                  BATON_ALERTMANAGER_HOOK_TOKEN="token-123")
    assert receivers(path, RETRAIN) == "baton,slack"
    assert receivers(path, ENGINE) == "slack"
    text = path.read_text()
    assert "token-123" not in text and "credentials_file:" in text
    # Without Slack, the retraining alerts still reach Baton.
    assert receivers(config(BATON_ALERTMANAGER_HOOK_URL="http://127.0.0.1:8080/v1/hooks/alertmanager"),
                     RETRAIN) == "baton,null"
