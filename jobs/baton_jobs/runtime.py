"""Process-level plumbing shared by the stages: Ray start-up, devices, the stage main."""

from __future__ import annotations

import logging
import os
import sys
import time
import traceback
from typing import Any, Callable

import baton_job

from .data import JOBS_ROOT


def ensure_ray(num_cpus: int | None = None):
    """Connect to Ray: the job's cluster when run as a Ray job (RAY_ADDRESS is set), else a
    local one (tests, runs by hand) whose workers can import baton_jobs."""
    import ray

    if not ray.is_initialized():
        if os.environ.get("RAY_ADDRESS"):
            ray.init(log_to_driver=True)
        else:
            pythonpath = os.pathsep.join(p for p in (str(JOBS_ROOT), os.environ.get("PYTHONPATH", "")) if p)
            ray.init(
                address="local",  # a new local instance, never some other cluster on this host
                num_cpus=num_cpus,
                include_dashboard=False,
                log_to_driver=True,
                runtime_env={"env_vars": {"PYTHONPATH": pythonpath}},
            )
    try:
        from ray.data import DataContext

        DataContext.get_current().enable_progress_bars = False
    except Exception:  # pragma: no cover - older/newer Ray without the flag
        pass
    return ray


def warn_if_no_free_cpu(stage: str, needed: float = 1.0) -> None:
    """Ray tasks/actors of this stage need CPUs the entrypoint does not hold. When none are
    free they wait forever; say so in the log, since the usual cause is an entrypoint that
    reserves all of a small cluster's CPUs (e.g. resources: {cpus: 2} on a 2-CPU head)."""
    try:
        import ray

        free = float(ray.available_resources().get("CPU", 0.0))
        total = float(ray.cluster_resources().get("CPU", 0.0))
    except Exception:
        return
    if free < needed:
        log(stage, f"warning: {free:g} of {total:g} CPUs are free in the Ray cluster and this stage's Ray "
                   f"tasks need {needed:g}; they wait until CPUs free up. If this job's entrypoint reserves "
                   "the cluster's CPUs, give the stage fewer (resources: {cpus: 0.5}).")


def cuda_available() -> bool:
    try:
        import torch

        return bool(torch.cuda.is_available())
    except Exception:
        return False


def cluster_gpus() -> int:
    """GPUs in the Ray cluster (0 when Ray is not initialised)."""
    try:
        import ray

        if ray.is_initialized():
            return int(ray.cluster_resources().get("GPU", 0))
    except Exception:
        pass
    return 0


def unsloth_available() -> bool:
    """Unsloth is used only when it is importable AND a GPU is present."""
    if not cuda_available():
        return False
    try:
        import importlib.util

        return importlib.util.find_spec("unsloth") is not None
    except Exception:
        return False


def set_torch_threads(settings: dict) -> None:
    """Intra-op threads for torch: the tiny profile uses 1 (its matrices are too small to
    gain from more, and on a busy host spinning threads make it several times slower)."""
    threads = int(settings.get("torch_threads", 0) or 0)
    if threads > 0:
        import torch

        torch.set_num_threads(threads)


def log(stage: str, message: str) -> None:
    print(f"[{stage}] {message}", file=sys.stderr, flush=True)


def quiet_libraries() -> None:
    """Keep job logs readable: no progress bars, no advisory warnings.

    Works through environment variables read at import time, and touches only libraries
    already imported, so it imports nothing itself (Unsloth must be imported before
    transformers when it is used).
    """
    import warnings

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    warnings.filterwarnings("ignore", category=FutureWarning)  # library deprecation notices
    if "transformers" in sys.modules:
        try:
            sys.modules["transformers"].utils.logging.disable_progress_bar()
            sys.modules["transformers"].utils.logging.set_verbosity_error()
        except Exception:
            pass
    if "datasets" in sys.modules:
        try:
            sys.modules["datasets"].disable_progress_bars()
        except Exception:
            pass
    for name in ("transformers", "datasets", "trl", "peft", "accelerate"):
        logging.getLogger(name).setLevel(logging.ERROR)


def stage_main(stage: str, run: Callable[[baton_job.Contract], Any]) -> int:
    """The entrypoint of a stage: read the contract, run, report the stage's wall time.

    A missing contract exits 2 with a readable message; any other failure prints the
    traceback and exits 1, so Ray reports the job FAILED with the driver's error text.
    """
    try:
        contract = baton_job.Contract.from_env()
    except baton_job.ContractError as exc:
        print(f"baton_jobs.{stage}: {exc}", file=sys.stderr, flush=True)
        return 2
    if contract.stage != stage:
        log(stage, f"note: BATON_STAGE is {contract.stage!r}; running the {stage} job")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing is downloaded: models are local folders
    quiet_libraries()
    started = time.monotonic()
    log(stage, f"run {contract.run_id} attempt {contract.attempt_id} -> {contract.output_uri}")
    try:
        run(contract)
    except Exception:
        traceback.print_exc()
        print(f"baton_jobs.{stage}: failed", file=sys.stderr, flush=True)
        return 1
    baton_job.emit_metric("stage_seconds", round(time.monotonic() - started, 3))
    return 0
