"""`baton export dvc` checked with the real DVC (from PyPI, in the tools venv).

A run is written into a scratch database with SQL, as the engine records one: a three-stage
pipeline (prepare -> train -> evaluate) whose artifacts are real files and folders under one
artifact root, hashed with the job helper (jobs/baton_job.py, DVC 3 md5 and ``.dir`` hashes). The
export is written into that root, made a DVC project, and DVC must draw the expected DAG and find
every hash, size and file count in dvc.lock matching the files on disk.

Run with ``python -m pytest tests -q`` after ``eval "$(scripts/stack env)"`` and a build of baton.
"""

import importlib.util
import json
import os
import pathlib
import subprocess
import sys
import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
BATON = pathlib.Path(os.environ.get("BATON_BIN", ROOT / ".build" / "debug" / "baton"))
DVC = pathlib.Path(sys.executable).parent / "dvc"


def job_helper():
    spec = importlib.util.spec_from_file_location("baton_job", ROOT / "jobs" / "baton_job.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def database_url():
    url = os.environ.get("BATON_DATABASE_URL")
    assert url, 'BATON_DATABASE_URL is not set: run `eval "$(scripts/stack env)"` (make test does)'
    return url


def psql(url, sql, **variables):
    arguments = ["psql", url, "-v", "ON_ERROR_STOP=1", "-qAt"]
    for name, value in variables.items():
        arguments += ["-v", f"{name}={value}"]
    return subprocess.run(arguments, input=sql, text=True, capture_output=True, check=True).stdout


@pytest.fixture
def scratch_database():
    """A migrated throwaway database, dropped afterwards."""
    name = f"baton_test_dvc_{uuid.uuid4().hex[:8]}"
    base = database_url()
    psql(base, f"CREATE DATABASE {name}")
    parts = urlsplit(base)
    url = urlunsplit(parts._replace(path=f"/{name}"))
    try:
        subprocess.run([BATON, "migrate", "--database-url", url], check=True, capture_output=True, cwd=ROOT)
        yield url
    finally:
        psql(base, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


RUN_SQL = """
INSERT INTO runs (id, pipeline_name, spec_yaml, state, request_event_id)
VALUES (:'run', 'three', :'spec', 'succeeded', :'run');
INSERT INTO stages (run_id, name, position, kind, pool, state, attempts)
SELECT :'run', name, position, 'ray', 'default', 'succeeded', 1
FROM (VALUES ('prepare', 0), ('train', 1), ('evaluate', 2)) s (name, position);
INSERT INTO stage_attempts (id, run_id, stage, attempt, state, pool, timeout_ms, kind)
SELECT gen_random_uuid(), :'run', name, 1, 'succeeded', 'default', 60000, 'ray'
FROM (VALUES ('prepare'), ('train'), ('evaluate')) s (name);
INSERT INTO artifacts (uri, md5, size, nfiles, kind)
SELECT value ->> 'uri', value ->> 'md5', (value ->> 'size')::bigint, (value ->> 'nfiles')::int, value ->> 'kind'
FROM jsonb_each(:'artifacts'::jsonb);
INSERT INTO attempt_inputs (attempt_id, name, artifact_id)
SELECT a.id, e.name, f.id
FROM jsonb_to_recordset(:'inputs'::jsonb) e (stage text, name text, artifact text)
JOIN stage_attempts a ON a.run_id = :'run' AND a.stage = e.stage
JOIN artifacts f ON f.uri = (:'artifacts'::jsonb -> e.artifact ->> 'uri');
INSERT INTO attempt_outputs (attempt_id, name, artifact_id)
SELECT a.id, e.name, f.id
FROM jsonb_to_recordset(:'outputs'::jsonb) e (stage text, name text, artifact text)
JOIN stage_attempts a ON a.run_id = :'run' AND a.stage = e.stage
JOIN artifacts f ON f.uri = (:'artifacts'::jsonb -> e.artifact ->> 'uri');
"""

SPEC = """apiVersion: baton/v1
kind: Pipeline
metadata: {name: three}
stages:
  - {name: prepare, kind: ray, ray: {entrypoint: python -m jobs.prepare}}
  - {name: train, kind: ray, needs: [prepare], ray: {entrypoint: python -m jobs.train --epochs 1}}
  - {name: evaluate, kind: ray, needs: [train], ray: {entrypoint: python -m jobs.evaluate}}
"""


def test_dvc_accepts_the_export_and_draws_the_run(scratch_database, tmp_path):
    helper = job_helper()
    root = tmp_path / "artifacts"
    run = str(uuid.uuid4())
    files = {
        "corpus": write(root / "datasets" / "corpus" / "part-0.txt", "안녕하세요\n").parent,
        "tokens": write(root / run / "prepare" / "tokens.jsonl", '{"ids": [1, 2, 3]}\n'),
        "model": write(root / run / "train" / "model" / "weights.bin", "w" * 100).parent,
        "report": write(root / run / "evaluate" / "report.json", '{"accuracy": 0.9}\n'),
    }
    write(root / run / "train" / "model" / "config.json", "{}\n")
    write(root / "datasets" / "corpus" / "part-1.txt", "반갑습니다\n")
    artifacts = {}
    for name, path in files.items():
        info = helper.path_info(path)
        artifacts[name] = {
            "uri": helper.path_to_uri(path),
            "md5": info["md5"],
            "size": info["size"],
            "nfiles": info["nfiles"] if path.is_dir() else None,
            "kind": "dataset" if name == "corpus" else "file",
        }
    inputs = [
        {"stage": "prepare", "name": "corpus", "artifact": "corpus"},
        {"stage": "train", "name": "tokens", "artifact": "tokens"},
        {"stage": "evaluate", "name": "model", "artifact": "model"},
        {"stage": "evaluate", "name": "tokens", "artifact": "tokens"},
    ]
    outputs = [
        {"stage": "prepare", "name": "tokens", "artifact": "tokens"},
        {"stage": "train", "name": "model", "artifact": "model"},
        {"stage": "evaluate", "name": "report", "artifact": "report"},
    ]
    psql(
        scratch_database,
        RUN_SQL,
        run=run,
        spec=SPEC,
        artifacts=json.dumps(artifacts),
        inputs=json.dumps(inputs),
        outputs=json.dumps(outputs),
    )

    exported = subprocess.run(
        [BATON, "export", "dvc", run, "--out", root, "--database-url", scratch_database],
        capture_output=True, text=True, cwd=ROOT,
    )
    assert exported.returncode == 0, exported.stdout + exported.stderr
    assert f"relative to {root}" in exported.stdout

    pipeline = yaml.safe_load((root / "dvc.yaml").read_text())
    assert list(pipeline["stages"]) == ["prepare", "train", "evaluate"]
    assert pipeline["stages"]["train"] == {
        "cmd": "python -m jobs.train --epochs 1",
        "deps": [f"{run}/prepare/tokens.jsonl"],
        "outs": [f"{run}/train/model"],
    }
    lock = yaml.safe_load((root / "dvc.lock").read_text())
    assert lock["schema"] == "2.0"
    model = lock["stages"]["train"]["outs"][0]
    assert model == {
        "path": f"{run}/train/model",
        "hash": "md5",
        "md5": artifacts["model"]["md5"],
        "size": 103,
        "nfiles": 2,
    }

    dvc = lambda *arguments: subprocess.run(  # noqa: E731
        [DVC, *arguments], cwd=root, capture_output=True, text=True,
        env={**os.environ, "DVC_NO_ANALYTICS": "1"},
    )
    initialised = dvc("init", "--no-scm")
    assert initialised.returncode == 0, initialised.stderr

    dag = dvc("dag", "--dot")
    assert dag.returncode == 0, dag.stderr
    edges = {tuple(part.strip().strip('"') for part in line.rstrip(";").split("->"))
             for line in dag.stdout.splitlines() if "->" in line}
    assert edges == {("prepare", "train"), ("train", "evaluate"), ("prepare", "evaluate")}, dag.stdout
    assert dvc("dag").returncode == 0

    # DVC hashes the files itself: the outs match their recorded hashes (only absent from DVC's
    # cache, as nothing was `dvc add`ed) and no dep changed.
    status = dvc("status", "--json")
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout) == {
        stage: [{"changed outs": {path: "not in cache"}}]
        for stage, path in [("prepare", f"{run}/prepare/tokens.jsonl"), ("train", f"{run}/train/model"),
                            ("evaluate", f"{run}/evaluate/report.json")]
    }, status.stdout
    # Committing makes DVC write dvc.lock from what it computed: the same lock, so every md5,
    # size and nfiles Baton exported is DVC's own.
    committed = dvc("commit", "--force")
    assert committed.returncode == 0, committed.stderr
    assert yaml.safe_load((root / "dvc.lock").read_text()) == lock
    assert json.loads(dvc("status", "--json").stdout) == {}

    # A changed dataset is seen as a changed dep of the stage that read it.
    write(root / "datasets" / "corpus" / "part-1.txt", "changed\n")
    changed = json.loads(dvc("status", "--json").stdout)
    assert changed == {"prepare": [{"changed deps": {"datasets/corpus": "modified"}}]}, changed


def s3(method, url, body=None):
    """One signed request to the stack's S3 server (curl's SigV4), the body of its answer."""
    key, secret = os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"]
    arguments = ["curl", "-sf", "-X", method, "--aws-sigv4", "aws:amz:us-east-1:s3", "-K", "-", url]
    if body is not None:  # curl signs an upload's payload as unsigned, which S3 allows
        arguments[1:1] = ["-T", str(body), "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD"]
    return subprocess.run(arguments, input=f'user = "{key}:{secret}"'.encode(), capture_output=True, check=True).stdout


def test_s3_artifacts_export_relative_to_their_root_with_the_remote(scratch_database, tmp_path):
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3")
    artifact_root = os.environ.get("BATON_ARTIFACT_ROOT", "")
    assert endpoint and artifact_root.startswith("s3://"), 'run `eval "$(scripts/stack env)"` (make test does)'
    helper = job_helper()
    run = str(uuid.uuid4())
    s3_root = f"{artifact_root}/dvc-tests/{run}"
    local = tmp_path / "made"
    files = {
        "tokens": write(local / "prepare" / "tokens.jsonl", '{"ids": [1, 2, 3]}\n'),
        "model": write(local / "train" / "model" / "weights.bin", "w" * 100).parent,
        "report": write(local / "evaluate" / "report.json", '{"accuracy": 0.9}\n'),
    }
    write(local / "train" / "model" / "config.json", "{}\n")
    bucket_url = endpoint + "/" + s3_root[len("s3://"):]
    for path in sorted(p for p in local.rglob("*") if p.is_file()):
        s3("PUT", f"{bucket_url}/{path.relative_to(local).as_posix()}", body=path)
    artifacts = {}
    for name, path in files.items():
        info = helper.path_info(path)
        artifacts[name] = {"uri": f"{s3_root}/{path.relative_to(local).as_posix()}", "md5": info["md5"],
                           "size": info["size"], "nfiles": info["nfiles"] if path.is_dir() else None, "kind": "file"}
    psql(scratch_database, RUN_SQL, run=run, spec=SPEC, artifacts=json.dumps(artifacts),
         inputs=json.dumps([{"stage": "train", "name": "tokens", "artifact": "tokens"},
                            {"stage": "evaluate", "name": "model", "artifact": "model"}]),
         outputs=json.dumps([{"stage": "prepare", "name": "tokens", "artifact": "tokens"},
                             {"stage": "train", "name": "model", "artifact": "model"},
                             {"stage": "evaluate", "name": "report", "artifact": "report"}]))

    project = tmp_path / "project"
    project.mkdir()
    dvc = lambda *arguments: subprocess.run(  # noqa: E731
        [DVC, *arguments], cwd=project, capture_output=True, text=True, env={**os.environ, "DVC_NO_ANALYTICS": "1"})
    assert dvc("init", "--no-scm").returncode == 0
    export = lambda: subprocess.run(  # noqa: E731
        [BATON, "export", "dvc", run, "--out", project, "--database-url", scratch_database],
        capture_output=True, text=True, cwd=ROOT)
    exported = export()
    assert exported.returncode == 0, exported.stdout + exported.stderr
    assert f"s3:// paths are relative to {s3_root}" in exported.stdout
    assert export().returncode == 0, "exporting again replaces the remote instead of adding a second one"
    pipeline = yaml.safe_load((project / "dvc.yaml").read_text())
    assert pipeline["stages"]["train"]["deps"] == ["prepare/tokens.jsonl"]
    assert pipeline["stages"]["train"]["outs"] == ["train/model"]

    # DVC reads the remote Baton wrote.
    remotes = dvc("remote", "list")
    assert remotes.returncode == 0, remotes.stderr
    assert remotes.stdout.split() == ["baton", s3_root], remotes.stdout
    assert dvc("config", "remote.baton.endpointurl").stdout.strip() == endpoint

    # The objects synced into the project match the exported lock: DVC finds every out only
    # missing from its cache, and commits the same hashes.
    for path in sorted(p for p in local.rglob("*") if p.is_file()):
        relative = path.relative_to(local).as_posix()
        write(project / relative, s3("GET", f"{bucket_url}/{relative}").decode())
    lock = yaml.safe_load((project / "dvc.lock").read_text())
    assert dvc("commit", "--force").returncode == 0
    assert yaml.safe_load((project / "dvc.lock").read_text()) == lock
