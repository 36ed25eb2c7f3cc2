"""s3:// artifacts against the local stack's S3 server (SeaweedFS): the job helper's uploads and
downloads, and Ray Serve's model loading. The stack's AWS variables must be set
(`eval "$(scripts/stack env)"`; `make test` does): these tests use the real server, never a mock.
"""

from __future__ import annotations

import io
import json
import os
import uuid
from pathlib import Path

import pytest

import baton_job
from baton_serve.loading import load


@pytest.fixture(scope="module")
def root() -> str:
    artifact_root = os.environ.get("BATON_ARTIFACT_ROOT", "")
    assert os.environ.get("AWS_ENDPOINT_URL_S3") and artifact_root.startswith("s3://"), (
        'the stack\'s S3 variables are not set: run `eval "$(scripts/stack env)"` (make test does)')
    return f"{artifact_root}/jobs-tests/{uuid.uuid4()}"


def contract(root: str, tmp_path: Path) -> baton_job.Contract:
    env = {"BATON_RUN_ID": "r", "BATON_STAGE": "s", "BATON_ATTEMPT_ID": str(uuid.uuid4()), "BATON_OUTPUT_URI": root}
    os.environ["BATON_STAGING_DIR"] = str(tmp_path / "staging")
    os.environ["BATON_INPUT_CACHE"] = str(tmp_path / "inputs")
    return baton_job.Contract.from_env(env)


def emitted(name: str, path: Path) -> dict:
    stream = io.StringIO()
    baton_job.emit_output(name, path, stream=stream)
    line = stream.getvalue().strip()
    assert line.startswith("::baton::output ")
    return json.loads(line.split(" ", 1)[1])


def test_a_folder_goes_up_with_its_dvc_hash_and_comes_back_checked(root, tmp_path):
    job = contract(root, tmp_path)
    out = job.output_path("model")
    assert out.is_relative_to(tmp_path / "staging"), "outputs are staged locally"
    (out / "weights.bin").write_bytes(os.urandom(3000))
    (out / "토크나이저").mkdir()
    (out / "토크나이저" / "vocab.json").write_text('{"안녕": 1}', encoding="utf-8")

    record = emitted("model", out)
    assert record["uri"] == f"{root}/model"
    assert record["md5"] == baton_job.dir_md5(out), "the hash computed while uploading is DVC's"
    assert (record["size"], record["nfiles"]) == (3000 + len('{"안녕": 1}'.encode()), 2)

    local = baton_job.local_path(record["uri"], record["md5"])
    assert baton_job.dir_md5(local) == record["md5"]
    assert baton_job.local_path(record["uri"], record["md5"]) == local, "a second read is served from the cache"

    with pytest.raises(baton_job.ContractError, match="changed in the store"):
        baton_job.local_path(record["uri"], "0" * 32 + ".dir")


def test_a_file_output_and_a_missing_input(root, tmp_path):
    job = contract(root, tmp_path)
    report = job.output_path() / "report.json"
    report.write_text('{"accuracy": 0.9}')
    record = emitted("report", report)
    assert record["uri"] == f"{root}/report.json"
    assert record["md5"] == baton_job.file_md5(report) and record["nfiles"] == 1
    assert baton_job.local_path(record["uri"]).read_text() == '{"accuracy": 0.9}'
    with pytest.raises(baton_job.ContractError, match="cannot be read from S3"):
        baton_job.local_path(f"{root}/nothing-here")


def test_serve_loads_a_model_folder_from_s3(root, tmp_path, monkeypatch):
    monkeypatch.setenv("BATON_MODEL_CACHE", str(tmp_path / "models"))
    job = contract(root, tmp_path)
    model = job.output_path("served")
    (model / "baton-serve.json").write_text(json.dumps({"error_rate": 0.0}))
    record = emitted("served", model)
    loaded = load(record["uri"], 7)
    assert loaded.generate("안녕") == "v7: 안녕"
    with pytest.raises(FileNotFoundError, match="no model under"):
        load(f"{root}/no-model", 8)
