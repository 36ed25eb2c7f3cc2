"""The chaos suite's record generators (tests/chaos/hostile.py) make what they claim to make.

The suite itself needs a broker and a database (`make chaos-smoke`); this checks only the records,
in milliseconds, so a broken generator shows up in `make test` instead of as a confusing chaos run.
"""

import json
import math
import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent / "chaos"))

import hostile  # noqa: E402

EVENT_LIMIT = 1024 * 1024  # CloudEventCodec.maxEventBytes


def header(record, name):
    return dict(record.headers).get(name)


def spec_of(record):
    return yaml.safe_load(json.loads(record.value)["spec"])


def test_good_spec_is_a_four_stage_noop_diamond():
    spec = yaml.safe_load(hostile.good_spec("chaos-noop", "250ms"))
    assert [s["name"] for s in spec["stages"]] == ["a", "b", "c", "d"]
    assert all(s["kind"] == "noop" and s["noop"]["sleep"] == "250ms" for s in spec["stages"])
    assert spec["stages"][3]["needs"] == ["b", "c"]


def test_good_request_is_a_binary_mode_cloudevent():
    r = hostile.good_request("key-1", hostile.good_spec())
    body = json.loads(r.value)
    assert body["idempotency_key"] == "key-1" and body["run_id"] == r.run_id
    assert header(r, "ce_type") == b"pipeline.requested" and header(r, "ce_id") == r.ce_id.encode()


@pytest.mark.parametrize("kind", hostile.HOSTILE_KINDS)
def test_every_hostile_record_is_tagged_and_has_endings(kind):
    r = hostile.hostile(kind)
    assert r.kind == kind and header(r, "chaos_id") == r.chaos_id.encode()
    assert set(r.accept) <= {hostile.REJECTED, hostile.DEAD_LETTER, hostile.RUN_ENDED} and r.accept


def test_sizes():
    assert len(hostile.hostile("big_2mb").value) >= 2 * 1024 * 1024
    # The 1 MB names stay under the event limit, so they reach the validation, not the size check.
    for kind in ("huge_name_ref", "huge_name_inline"):
        r = hostile.hostile(kind)
        assert 1_000_000 <= len(r.value) < EVENT_LIMIT, kind
    assert len(json.loads(hostile.hostile("huge_name_ref").value)["pipeline"]) == 1_000_000


def test_not_json():
    for kind in ("not_json", "not_json_bare"):
        with pytest.raises(ValueError):
            json.loads(hostile.hostile(kind).value)
    bare = hostile.hostile("not_json_bare")
    assert [k for k, _ in bare.headers] == ["chaos_id"] and bare.key is None and bare.ce_id is None


def test_nul_bytes_in_headers():
    r = hostile.hostile("nul_header")
    assert b"\x00" in header(r, "ce_id") and b"\x00" in header(r, "ce_source")
    assert any("\x00" in k for k, _ in r.headers)


def test_nan_default():
    spec = spec_of(hostile.hostile("nan_default"))
    assert math.isnan(spec["params"]["rate"]["default"])


def test_alias_bomb_is_valid_yaml_with_nine_levels():
    # compose() keeps aliases as shared nodes: cheap here, 9**9 leaves if a reader expands them.
    text = json.loads(hostile.hostile("alias_bomb").value)["spec"]
    assert text.count("*x") == 8 * 9
    node = yaml.compose(text)
    assert node is not None
    assert "params" in text and "&x8" in text


def test_unknown_keys_and_pool():
    assert len(spec_of(hostile.hostile("unknown_keys"))["x_unknown"]) == 5000
    stages = spec_of(hostile.hostile("unknown_pool"))["stages"]
    assert stages[3]["pool"] == "nosuchpool"
    assert hostile.RUN_ENDED in hostile.hostile("unknown_pool").accept


def test_unknown_type():
    assert header(hostile.hostile("unknown_type"), "ce_type") == b"pipeline.exploded"
