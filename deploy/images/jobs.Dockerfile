# syntax=docker/dockerfile:1
#
# The reference pipeline's Ray runtime: a Ray image with jobs/requirements.txt installed and
# jobs/ at /app/jobs. It runs the Ray head and workers of deploy/ray-cluster.yaml (stage jobs),
# of deploy/ray-service.yaml (Ray Serve) and of compose's ray-head. Build from the repository root:
#
#   docker build -f deploy/images/jobs.Dockerfile -t baton-jobs:local .                      # CPU
#   docker build -f deploy/images/jobs.Dockerfile --build-arg VARIANT=gpu -t baton-jobs:gpu .  # CUDA
#
# Ray's own image (Python 3.11, which jobs/requirements.txt is checked with) comes in a `cpu` and a
# `gpu` (CUDA) variant; the gpu variant adds jobs/requirements-gpu.txt (bitsandbytes for QLoRA).
# PyTorch's wheel on PyPI is its CUDA build (a few GB): for the cpu variant, point
# PIP_EXTRA_INDEX_URL at PyTorch's CPU-only wheel index to get the small one.

ARG RAY_VERSION=2.60.0
ARG VARIANT=cpu
FROM rayproject/ray:${RAY_VERSION}-py311-${VARIANT}

ARG VARIANT
ARG PIP_EXTRA_INDEX_URL=""

# Requirements first, so a change to the jobs' code does not reinstall them. The image's user is
# `ray` (uid 1000), whose Python environment pip installs into.
COPY jobs/requirements.txt jobs/requirements-gpu.txt /tmp/jobs-requirements/
RUN requirements=/tmp/jobs-requirements/requirements.txt \
 && if [ "$VARIANT" = gpu ]; then requirements=/tmp/jobs-requirements/requirements-gpu.txt; fi \
 && PIP_EXTRA_INDEX_URL="$PIP_EXTRA_INDEX_URL" pip install --no-cache-dir -r "$requirements"

# The same absolute path as in Baton's image (root Dockerfile): with BATON_RAY_LAUNCHER=kuberay,
# Baton passes runtime_env.working_dir as its own path (/app/jobs), and the RayJob's submitter,
# which runs this image, reads the folder there. Read-only data, owned by root.
COPY jobs /app/jobs

# `python -m baton_jobs.<stage>` and Serve's `baton_serve.router:build` import from here when no
# working_dir is given (RayService's serveConfigV2); a job's working_dir still comes first.
ENV PYTHONPATH=/app/jobs:/app/jobs/serve
