"""The job helper: hashes (against hand-computed values), records, the contract."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest

import baton_job

HELLO_MD5 = "b1946ac92492d2347c6235b4d2611184"  # md5 of b"hello\n"
EMPTY_MD5 = "d41d8cd98f00b204e9800998ecf8427e"  # md5 of b""


# --------------------------------------------------------------------------- hashing


def test_file_md5_is_the_md5_of_the_bytes(tmp_path):
    (tmp_path / "hello.txt").write_bytes(b"hello\n")
    (tmp_path / "empty").write_bytes(b"")
    (tmp_path / "crlf.txt").write_bytes(b"hello\r\n")  # DVC 3 does not dos2unix
    assert baton_job.file_md5(tmp_path / "hello.txt") == HELLO_MD5
    assert baton_job.file_md5(tmp_path / "empty") == EMPTY_MD5
    assert baton_job.file_md5(tmp_path / "crlf.txt") != HELLO_MD5


def test_large_file_md5_reads_in_chunks(tmp_path):
    data = bytes(range(256)) * 20000  # 5 MB, several chunks
    (tmp_path / "big").write_bytes(data)
    import hashlib

    assert baton_job.file_md5(tmp_path / "big") == hashlib.md5(data).hexdigest()


def test_empty_folder_has_dvcs_empty_dir_hash(tmp_path):
    # md5("[]") + ".dir": the value DVC gives an empty directory
    assert baton_job.dir_md5(tmp_path) == "d751713988987e9331980363e24189ce.dir"


def test_dir_md5_matches_the_hand_computed_dvc_value(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.txt").write_bytes(b"")
    (tmp_path / "a.txt").write_bytes(b"hello\n")
    # md5 of the exact bytes DVC hashes (json.dumps(..., sort_keys=True), default separators):
    # [{"md5": "b1946ac92492d2347c6235b4d2611184", "relpath": "a.txt"},
    #  {"md5": "d41d8cd98f00b204e9800998ecf8427e", "relpath": "sub/b.txt"}]
    assert baton_job.dir_md5(tmp_path) == "7c2a6b2a0c1722b6f95ad337f0a5882f.dir"
    info = baton_job.path_info(tmp_path)
    assert info == {"md5": "7c2a6b2a0c1722b6f95ad337f0a5882f.dir", "size": 6, "nfiles": 2}


def test_dir_md5_escapes_non_ascii_relpaths_like_json_dumps(tmp_path):
    (tmp_path / "a b").mkdir()
    (tmp_path / "a b" / "한.txt").write_bytes(b"hello\n")
    # [{"md5": "b1946ac92492d2347c6235b4d2611184", "relpath": "a b/\ud55c.txt"}]
    assert baton_job.dir_md5(tmp_path) == "7cb5df48039f2e62a1e0318ff6a27c3d.dir"


def test_dir_entries_are_sorted_by_posix_relpath(tmp_path):
    for name in ("b", "a/z", "a/b", "A", "a.txt"):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(name)
    assert [e["relpath"] for e in baton_job.dir_entries(tmp_path)] == ["A", "a.txt", "a/b", "a/z", "b"]


def test_dir_md5_changes_with_content_and_names(tmp_path):
    (tmp_path / "x").write_text("1")
    first = baton_job.dir_md5(tmp_path)
    (tmp_path / "x").write_text("2")
    second = baton_job.dir_md5(tmp_path)
    (tmp_path / "x").rename(tmp_path / "y")
    third = baton_job.dir_md5(tmp_path)
    assert len({first, second, third}) == 3


def test_path_info_of_a_file_and_a_missing_path(tmp_path):
    (tmp_path / "f").write_bytes(b"hello\n")
    assert baton_job.path_info(tmp_path / "f") == {"md5": HELLO_MD5, "size": 6, "nfiles": 1}
    with pytest.raises(FileNotFoundError):
        baton_job.path_info(tmp_path / "nope")


# --------------------------------------------------------------------------- records


def test_output_record_format():
    line = baton_job.output_record("model", "file:///a/b", md5="abc.dir", size=12, nfiles=3)
    assert line == '::baton::output {"name":"model","uri":"file:///a/b","md5":"abc.dir","size":12,"nfiles":3}'


def test_metric_record_format():
    assert baton_job.metric_record("loss", 1.25, 10) == '::baton::metric {"key":"loss","value":1.25,"step":10}'
    assert baton_job.metric_record("docs", 7) == '::baton::metric {"key":"docs","value":7,"step":0}'
    assert baton_job.metric_record("ok", True) == '::baton::metric {"key":"ok","value":1.0,"step":0}'


def test_records_are_one_ascii_line():
    line = baton_job.output_record("데이터", "file:///tmp/한글 폴더")
    assert "\n" not in line and line.isascii()
    payload = json.loads(line.split(" ", 1)[1])
    assert payload == {"name": "데이터", "uri": "file:///tmp/한글 폴더"}


@pytest.mark.parametrize("value", [float("nan"), float("inf"), "abc", None])
def test_metric_rejects_non_finite_and_non_numbers(value):
    with pytest.raises(ValueError):
        baton_job.metric_record("loss", value)


@pytest.mark.parametrize("key", ["", " ", "a\nb", "x" * 201])
def test_metric_rejects_bad_keys(key):
    with pytest.raises(ValueError):
        baton_job.metric_record(key, 1.0)


def test_metric_rejects_fractional_step():
    with pytest.raises(ValueError):
        baton_job.metric_record("loss", 1.0, 1.5)


def test_emit_output_hashes_a_folder_and_flushes(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "a.txt").write_bytes(b"hello\n")
    stream = io.StringIO()
    record = baton_job.emit_output("dataset", tmp_path / "out", stream=stream)
    line = stream.getvalue()
    assert line.endswith("\n") and line.count("\n") == 1
    kind, payload = line.strip().split(" ", 1)
    assert kind == "::baton::output"
    data = json.loads(payload)
    assert data["uri"] == (tmp_path / "out").resolve().as_uri()
    assert data["md5"].endswith(".dir") and data["size"] == 6 and data["nfiles"] == 1
    assert record["md5"] == data["md5"]


def test_emit_output_accepts_a_remote_uri_with_given_hash():
    stream = io.StringIO()
    baton_job.emit_output("model", "s3://bucket/model", md5="x.dir", size=1, nfiles=1, stream=stream)
    assert json.loads(stream.getvalue().split(" ", 1)[1])["uri"] == "s3://bucket/model"


def test_emit_metrics_skips_non_finite_values(capsys):
    stream = io.StringIO()
    baton_job.emit_metrics({"a": 1.0, "b": float("nan")}, step=3, stream=stream)
    assert stream.getvalue() == '::baton::metric {"key":"a","value":1.0,"step":3}\n'
    assert "skipped metric" in capsys.readouterr().err


# --------------------------------------------------------------------------- contract

ENV = {
    "BATON_RUN_ID": "run-1",
    "BATON_STAGE": "cpt",
    "BATON_ATTEMPT_ID": "att-1",
    "BATON_PARAMS": '{"profile": "tiny", "lora_rank": 8}',
    "BATON_INPUTS": '{"dataset": {"uri": "file:///data/ds", "md5": "abc.dir"}}',
    "BATON_OUTPUT_URI": "file:///tmp/out%20dir",
}


def test_contract_from_env():
    c = baton_job.Contract.from_env(ENV)
    assert (c.run_id, c.stage, c.attempt_id) == ("run-1", "cpt", "att-1")
    assert c.params == {"profile": "tiny", "lora_rank": 8}
    assert c.inputs["dataset"].md5 == "abc.dir"
    assert str(c.input_path("dataset")) == "/data/ds"
    assert str(c.output_root) == "/tmp/out dir"
    assert c.param("missing", 3) == 3


def test_contract_output_path_creates_the_folder(tmp_path):
    env = dict(ENV, BATON_OUTPUT_URI=tmp_path.as_uri())
    out = baton_job.Contract.from_env(env).output_path("model")
    assert out == tmp_path / "model" and out.is_dir()


def test_missing_contract_names_the_variables():
    with pytest.raises(baton_job.ContractError) as err:
        baton_job.Contract.from_env({"BATON_RUN_ID": "r"})
    message = str(err.value)
    assert "BATON_STAGE" in message and "BATON_OUTPUT_URI" in message and "python -m baton_jobs" in message


@pytest.mark.parametrize(
    "var,value,needle",
    [
        ("BATON_PARAMS", "{not json", "BATON_PARAMS is not valid JSON"),
        ("BATON_PARAMS", "[1, 2]", "BATON_PARAMS must be a JSON object"),
        ("BATON_INPUTS", '{"x": {"md5": "a"}}', "BATON_INPUTS['x']"),
        ("BATON_OUTPUT_URI", "gs://bucket/x", "unsupported URI scheme"),
        ("BATON_OUTPUT_URI", "s3:///x", "not an s3://bucket/key URI"),
    ],
)
def test_malformed_contract_is_readable(var, value, needle):
    with pytest.raises(baton_job.ContractError) as err:
        baton_job.Contract.from_env(dict(ENV, **{var: value}))
    assert needle in str(err.value)


def test_unknown_input_lists_the_known_ones():
    c = baton_job.Contract.from_env(ENV)
    with pytest.raises(baton_job.ContractError, match="has dataset"):
        c.input("model")


def test_empty_params_and_inputs_default_to_empty_objects():
    env = {k: v for k, v in ENV.items() if k not in ("BATON_PARAMS", "BATON_INPUTS")}
    c = baton_job.Contract.from_env(env)
    assert c.params == {} and c.inputs == {}


def test_a_stage_without_the_contract_exits_2_with_a_readable_message(jobs_root):
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("BATON_")}
    proc = subprocess.run([sys.executable, "-m", "baton_jobs.sft"], cwd=jobs_root, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "job contract is missing" in proc.stderr and "Traceback" not in proc.stderr


def test_helper_cli_hashes_paths(tmp_path, jobs_root):
    (tmp_path / "f").write_bytes(b"hello\n")
    proc = subprocess.run([sys.executable, str(jobs_root / "baton_job.py"), "hash", str(tmp_path / "f")],
                          capture_output=True, text=True, timeout=60)
    assert json.loads(proc.stdout)["md5"] == HELLO_MD5
