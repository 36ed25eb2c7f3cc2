"""Run the reference pipeline's Ray-job stages locally, the way Baton drives them.

    cd jobs && python -m baton_jobs.local --out /tmp/baton-local [--param profile=tiny ...]

Each stage runs as its own process (``python -m baton_jobs.<stage>``) with the job
contract in its environment (BATON_RUN_ID, BATON_STAGE, BATON_ATTEMPT_ID, BATON_PARAMS,
BATON_INPUTS, BATON_OUTPUT_URI); the ``::baton::`` records it prints are parsed, and its
outputs (uri + md5) become the next stage's inputs, as in ``examples/korean-llm.yaml``.
This is a developer tool (no engine, no retries, no cache); it prints each stage's wall
time and metrics and writes ``summary.json``. Stages that use Ray start their own local
Ray instance unless RAY_ADDRESS points at a cluster.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from .data import JOBS_ROOT

PIPELINE = [
    # (stage, {input name: (upstream stage, output name) or param name}, output names)
    ("preprocess", {"corpus": "params.corpus"}, ["dataset"]),
    ("cpt", {"dataset": ("preprocess", "dataset")}, ["model"]),
    ("sft", {"model": ("cpt", "model"), "dataset": ("preprocess", "dataset")}, ["model"]),
    ("rlhf", {"model": ("sft", "model")}, ["model"]),
    ("evaluate", {"model": ("rlhf", "model")}, ["report"]),
]


def parse_records(text: str) -> tuple[dict[str, dict], list[dict]]:
    """The ::baton:: records of a log, as the job watcher reads them."""
    outputs: dict[str, dict] = {}
    metrics: list[dict] = []
    for line in text.splitlines():
        start = line.find("::baton::")
        if start < 0:
            continue
        kind, _, payload = line[start + len("::baton::"):].partition(" ")
        record = json.loads(payload)
        if kind == "output":
            outputs[record["name"]] = record
        elif kind == "metric":
            metrics.append(record)
    return outputs, metrics


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="folder for the run's outputs")
    parser.add_argument("--param", action="append", default=[], help="name=value (JSON value or string)")
    parser.add_argument("--stages", default=",".join(s for s, _, _ in PIPELINE), help="comma-separated subset")
    parser.add_argument("--python", default=sys.executable)
    args = parser.parse_args(argv)

    params: dict[str, Any] = {"profile": "tiny", "corpus": "data/corpus.jsonl", "mask_pii": True}
    for item in args.param:
        name, _, value = item.partition("=")
        params[name] = _value(value)
    run_id = f"local-{uuid.uuid4().hex[:8]}"
    root = Path(args.out).resolve()
    root.mkdir(parents=True, exist_ok=True)
    wanted = set(args.stages.split(","))
    produced: dict[tuple[str, str], dict] = {}
    summary: dict[str, Any] = {"run_id": run_id, "params": params, "stages": {}}
    total_started = time.monotonic()

    for stage, input_spec, _outputs in PIPELINE:
        if stage not in wanted:
            continue
        inputs = {}
        for name, source in input_spec.items():
            if isinstance(source, str):
                inputs[name] = {"uri": str(params[source.split(".", 1)[1]]), "md5": None}
            else:
                rec = produced.get(source)
                if rec is None:
                    out = root / source[0] / source[1]
                    if not out.exists():
                        raise SystemExit(f"{stage} needs {source[0]}.{source[1]}: run that stage first")
                    rec = {"uri": out.as_uri(), "md5": None}
                inputs[name] = {"uri": rec["uri"], "md5": rec.get("md5")}
        env = dict(
            os.environ,
            BATON_RUN_ID=run_id,
            BATON_STAGE=stage,
            BATON_ATTEMPT_ID=f"{run_id}-{stage}-1",
            BATON_PARAMS=json.dumps(params),
            BATON_INPUTS=json.dumps(inputs),
            BATON_OUTPUT_URI=(root / stage).as_uri(),
        )
        started = time.monotonic()
        proc = subprocess.run([args.python, "-m", f"baton_jobs.{stage}"], cwd=JOBS_ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        seconds = time.monotonic() - started
        (root / f"{stage}.log").write_text(proc.stdout + "\n--- stderr ---\n" + proc.stderr, encoding="utf-8")
        if proc.returncode != 0:
            print(proc.stderr[-4000:], file=sys.stderr)
            print(f"{stage}: FAILED (exit {proc.returncode}) after {seconds:.1f}s; log in {root / (stage + '.log')}")
            return 1
        outputs, metrics = parse_records(proc.stdout)
        for name, rec in outputs.items():
            produced[(stage, name)] = rec
        last = {m["key"]: m["value"] for m in metrics}
        summary["stages"][stage] = {"seconds": round(seconds, 1), "outputs": outputs, "metrics": last}
        shown = {k: last[k] for k in ("docs_out", "initial_loss", "final_loss", "best_learning_rate", "best_beta",
                                      "accuracy", "exact_match", "perplexity", "latency_p95_ms") if k in last}
        print(f"{stage:<10} {seconds:6.1f}s  " + "  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                                                       for k, v in shown.items()), flush=True)
    summary["seconds"] = round(time.monotonic() - total_started, 1)
    (root / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False), encoding="utf-8")
    print(f"total      {summary['seconds']:6.1f}s  ({root / 'summary.json'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
