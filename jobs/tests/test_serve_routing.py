"""The canary router's settings and version choice, and model loading (jobs/serve)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from baton_serve.loading import InjectedError, load, local_path
from baton_serve.routing import RouterConfig

STABLE = {"app": "m-v1", "version": 1}
CANDIDATE = {"app": "m-v2", "version": 2}


def test_weight_splits_draws_between_candidate_and_stable():
    config = RouterConfig.parse({"model": "m", "stable": STABLE, "candidate": CANDIDATE, "weight": 20})
    picks = [config.pick(i / 100)[1] for i in range(100)]
    assert picks.count("candidate") == 20
    assert picks.count("stable") == 80


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"model": "m", "stable": STABLE, "candidate": CANDIDATE, "weight": 101}, "0..100"),
        ({"model": "m", "candidate": CANDIDATE, "weight": 50}, "weight 100"),
        ({"model": "m", "stable": STABLE, "weight": 10}, "without a candidate"),
        ({"model": "m", "weight": 0}, "stable or a candidate"),
    ],
)
def test_invalid_router_configs_are_refused(config, message):
    with pytest.raises(ValueError, match=message):
        RouterConfig.parse(config)


def test_first_rollout_sends_everything_to_the_candidate():
    config = RouterConfig.parse({"model": "m", "stable": None, "candidate": CANDIDATE, "weight": 100})
    assert config.pick(0.999)[0].version == 2


def test_trivial_model_answers_and_fails_on_purpose(tmp_path: Path):
    good = tmp_path / "good"
    good.mkdir()
    (good / "baton-serve.json").write_text("{}")
    assert load(f"file://{good}", 3).generate("hi") == "v3: hi"
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "baton-serve.json").write_text(json.dumps({"error_rate": 1.0}))
    with pytest.raises(InjectedError):
        load(str(bad), 4).generate("hi")


def test_loading_refuses_remote_and_unknown_models(tmp_path: Path):
    with pytest.raises(ValueError, match="only file://, s3://"):
        local_path("gs://bucket/model")
    with pytest.raises(ValueError, match="not a servable model"):
        load(str(tmp_path), 1)


@pytest.mark.parametrize(
    ("output", "expected", "outcome"),
    [
        ("는", "는", "correct"),
        (" 는.\n더", "는", "correct"),
        ("은", "는", "wrong"),
        ("이랑", "랑", "wrong"),  # exact, not contained
        ("는", None, None),
        ("는", 3, None),
        ("는", "x" * 201, None),
    ],
)
def test_labelled_probes_are_scored_exactly(output, expected, outcome):
    from baton_serve.routing import probe_outcome

    assert probe_outcome(output, expected) == outcome
