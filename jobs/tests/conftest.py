"""Shared fixtures: import paths, one local Ray instance, small trained models.

Everything runs on the CPU; nothing is downloaded.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

JOBS = Path(__file__).resolve().parent.parent
# The jobs (baton_job, baton_jobs) and the Serve applications (baton_serve).
for folder in (JOBS, JOBS / "serve"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("RAY_TRAIN_ENABLE_PRINT_PATCH", "0")
os.environ.pop("RAY_ADDRESS", None)  # tests always use their own local Ray


@pytest.fixture(scope="session")
def jobs_root() -> Path:
    return JOBS


@pytest.fixture(scope="session")
def ray_local():
    """A local Ray instance for the whole session (2 CPUs, no dashboard)."""
    import ray

    from baton_jobs.runtime import ensure_ray

    ensure_ray(num_cpus=2)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="session")
def quiet():
    from baton_jobs.runtime import quiet_libraries

    quiet_libraries()


# Few steps keep the suite fast where only the mechanics are checked (sft: 300 of the
# profile's 600 steps: past its peak learning rate, and a model rlhf can move; forgetting would
# show if the replay stopped working; rlhf: 16 steps at 3e-4, above the Tune range's 2e-4, so the
# margin moves in 16 steps (at 1e-3, one held-out pair in 39 flipped the wrong way on this sft
# model); test_learning trains with the profile's own settings.
TINY = {"profile": "tiny", "cpt_max_steps": 30, "sft_max_steps": 300, "rlhf_max_steps": 16, "rlhf_logging_steps": 1,
        "rlhf_learning_rate": 3e-4,
        "rlhf_tune_samples": 0}


@pytest.fixture(scope="session")
def tiny_params() -> dict:
    return dict(TINY)


@pytest.fixture(scope="session")
def corpus_dataset(tmp_path_factory, jobs_root) -> Path:
    """The shipped corpus cleaned with the pure functions (no Ray), as a dataset folder."""
    import json

    from baton_jobs import text as T

    out = tmp_path_factory.mktemp("dataset")
    seen = set()
    rows = []
    for line in (jobs_root / "data" / "corpus.jsonl").read_text(encoding="utf-8").splitlines():
        cleaned = T.clean_text(json.loads(line)["text"]).text
        if T.length_ok(cleaned) and T.hangul_word_ratio(cleaned) >= 0.5 and T.repetition_ratio(cleaned) <= 0.5 and cleaned not in seen:
            seen.add(cleaned)
            rows.append({"text": cleaned})
    (out / "part-00000.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return out


@pytest.fixture(scope="session")
def cpt_outcome(tmp_path_factory, corpus_dataset, tiny_params, jobs_root, quiet):
    from baton_jobs import cpt

    root = tmp_path_factory.mktemp("cpt")
    return cpt.train(corpus_dataset, root, tiny_params, instructions=jobs_root / "data" / "instructions.jsonl",
                     heldout=jobs_root / "data" / "heldout.jsonl", emit=False)


@pytest.fixture(scope="session")
def sft_outcome(tmp_path_factory, cpt_outcome, corpus_dataset, tiny_params, jobs_root, quiet):
    """The suite's sft (few steps) as the pipeline runs it: on cpt's model, replaying cpt's text
    (the corpus dataset)."""
    from baton_jobs import sft

    data = jobs_root / "data"
    return sft.train(cpt_outcome.out_dir, data / "instructions.jsonl", tmp_path_factory.mktemp("sft"),
                     dict(tiny_params, seed=1), testset=data / "testset.jsonl", heldout=data / "heldout.jsonl",
                     corpus=corpus_dataset, emit=False)
