# Baton developer entry points. The local stack (PostgreSQL, Tansu, librdkafka) is managed
# by scripts/stack; every recipe line that runs Swift first loads the stack's environment
# (database URL, brokers, and the PKG_CONFIG_PATH / LD_LIBRARY_PATH of the librdkafka
# build), because each recipe line runs in a shell of its own.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c

STACK := scripts/stack
# Assign first, then eval: a failing `scripts/stack env` then fails the recipe line.
ENV = stack_env="$$($(STACK) env)" && eval "$$stack_env" &&

.PHONY: setup stack-up stack-down stack-status build test test-clean demo lint chaos chaos-smoke scale learning-test gpu-smoke bench bench-profile bench-micro bench-observability

## Install / build everything the stack needs, start nothing.
setup:
	$(STACK) install

stack-up:
	$(STACK) up

stack-down:
	$(STACK) down

stack-status:
	$(STACK) status

# `setup` first: SwiftPM needs librdkafka (via pkg-config) to build at all.
build: setup
	$(ENV) swift build

# Lint first (seconds), then the Swift suites (which use the real PostgreSQL, broker and Ray
# head), then a smoke of the fault-injection suite (`make chaos-smoke`, about 100 s) and of the
# horizontal-scaling suite (`make scale` small, about 2-3 minutes), then the
# Python suites: the repo's checks with the tools venv, the jobs' own suite (tiny training
# runs) with the Ray venv the jobs run in.
# Every suite that talks to a server has a per-test time limit; the `timeout` is the last
# guard, so that a hang fails the run with its output instead of eating CI's 90 minutes.
# The Swift tests run at most TEST_WIDTH at a time (default: two per CPU): each starts its own
# engine processes and Ray jobs, and with no bound all ~270 start at once, a small machine's Ray
# head stops answering and tests fail on time, not on behaviour. `swift test` has no such option
# for swift-testing, so the test bundle is run directly (what `swift test` does on Linux).
TEST_WIDTH ?= $(shell echo $$(( $$(nproc) * 2 )))

test: stack-up lint test-clean
	$(ENV) swift build --build-tests
	$(ENV) timeout --kill-after=30 1800 "$$(swift build --show-bin-path)/batonPackageTests.xctest" \
		--testing-library swift-testing --experimental-maximum-parallelization-width $(TEST_WIDTH)
	$(ENV) timeout --kill-after=30 600 "$$BATON_PYTHON_TOOLS" tests/chaos/chaos.py --smoke
	$(ENV) timeout --kill-after=30 600 "$$BATON_PYTHON_TOOLS" tests/scale/scale.py --smoke
	$(ENV) "$$BATON_PYTHON_TOOLS" -m pytest tests -q
	$(ENV) cd jobs && "$$BATON_RAY_PYTHON" -m pytest -q

# Each test makes throwaway databases (baton_test_*); drop the last run's before the next.
test-clean: stack-up
	$(ENV) for db in $$(psql "$$BATON_DATABASE_URL" -Atc "SELECT datname FROM pg_database WHERE datname LIKE 'baton\_test\_%'"); do \
		psql "$$BATON_DATABASE_URL" -qc "DROP DATABASE $$db WITH (FORCE)"; done

# The tiny profile learns the reference task (unseen exact match above the gate's 0.85) with
# three seeds: minutes of CPU training per seed, so not part of `make test`.
learning-test: stack-up
	$(ENV) cd jobs && "$$BATON_RAY_PYTHON" -m pytest -q -m learning

demo: stack-up build
	$(ENV) scripts/demo

# The engine's speed (docs/performance.md): a release serve against the stack with fsync on; the
# noop pipeline one run at a time and 200 in flight, each hand-off step, the Ray bench, `baton submit`.
bench: stack-up
	$(ENV) scripts/bench

# The same bench, with where serve's CPU goes: a flame graph in .stack/bench/profile (perf from apt).
bench-profile: stack-up
	$(ENV) BATON_BENCH_PROFILE=1 scripts/bench

# Micro-benchmarks of the hot paths without I/O (spec parse, spec cache, planner, event encode
# and decode; Benchmarks/HotPaths): ordo-one's package-benchmark, release build, a table each.
bench-micro: setup
	$(ENV) swift package benchmark --target HotPaths

# What /metrics and OTLP spans cost a stage: the noop bench (release) with each off and on.
bench-observability: stack-up
	$(ENV) scripts/bench-observability

# Every shell file passes shellcheck: -x follows what scripts/stack sources, and the files of
# scripts/stack.d (which it sources in a loop) are checked one by one. shellcheck comes from apt
# (scripts/stack install-lint) where it is missing.
SHELL_SCRIPTS = scripts/stack scripts/demo scripts/bench scripts/bench-observability .ci/run $(wildcard scripts/stack.d/*.sh scripts/stack.d/services/*.sh)

lint:
	command -v shellcheck >/dev/null || $(STACK) install-lint
	shellcheck -x $(SHELL_SCRIPTS)
	swift format lint --strict --recursive Sources Tests Benchmarks

# Fault injection (tests/chaos, README "Fault injection"): its own PostgreSQL and Tansu on free
# loopback ports (never the stack's), several `baton serve` processes, kill -9, a broker restart
# that loses all data, a PostgreSQL restart, a read-only PostgreSQL, hostile records. Needs only
# the installs (`setup`), not a running stack. Prints one JSON report; non-zero exit when a check
# fails. Extra flags: make chaos CHAOS_ARGS="--runs 50 --seed 7" (see --help).
CHAOS_ARGS ?=

chaos: setup
	$(ENV) swift build --product baton
	$(ENV) timeout --kill-after=30 1800 "$$BATON_PYTHON_TOOLS" tests/chaos/chaos.py $(CHAOS_ARGS)

# The same, small: 1.5-3 minutes (runs 30, window 60 s, 8 kills, every hostile kind once).
chaos-smoke: setup
	$(ENV) swift build --product baton
	$(ENV) timeout --kill-after=30 600 "$$BATON_PYTHON_TOOLS" tests/chaos/chaos.py --smoke $(CHAOS_ARGS)

# Horizontal scaling (tests/scale/README.md): its own PostgreSQL and Tansu, one coordinator-side
# serve, 1 -> 2 -> 4 -> 1 `worker,watcher` serves on one pool, kill -9 mid-stage, a Ray attempt
# adopted after its worker's kill -9 (needs the stack's Ray head). Prints one JSON report with
# runs/s and claims per worker. Extra flags: make scale SCALE_ARGS="--seed 7" (see --help).
SCALE_ARGS ?=

scale: stack-up
	$(ENV) swift build --product baton
	$(ENV) timeout --kill-after=30 1800 "$$BATON_PYTHON_TOOLS" tests/scale/scale.py $(SCALE_ARGS)

# On a machine with one NVIDIA GPU (jobs/README.md, "GPU smoke"): a few steps of cpt, sft and
# rlhf with the full profile (4-bit base, LoRA, bf16, FlashAttention 2 when installed) on a model
# folder on local disk; one JSON line per stage with tokens/s and peak memory. Needs a Python
# with jobs/requirements-gpu.txt installed (GPU_PYTHON). Nothing is downloaded.
BASE_MODEL ?= $(BATON_BASE_MODEL)
GPU_PYTHON ?= python3
GPU_SMOKE_STEPS ?= 5

gpu-smoke:
	test -d "$(BASE_MODEL)" || { echo "BASE_MODEL=<a local model folder, e.g. Qwen2.5-7B> is required"; exit 2; }
	cd jobs && timeout --kill-after=30 480 "$(GPU_PYTHON)" -m baton_jobs.gpu_smoke --model "$(BASE_MODEL)" --steps $(GPU_SMOKE_STEPS)
