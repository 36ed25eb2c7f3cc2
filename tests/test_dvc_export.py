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
