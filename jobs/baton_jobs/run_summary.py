"""One run's story in a few lines: each stage's wall time and what it changed.

    baton runs show RUN_ID --json | python -m baton_jobs.run_summary

Reads the JSON of ``baton runs show`` (standard library only) and prints, per stage, its
state and duration and, for the training stages, each ``<metric>_before`` ->
``<metric>_after`` pair they reported (cpt: held-out perplexity; sft: task accuracy; rlhf:
preferred share of held-out pairs and the mean log-likelihood margin); for evaluate, the final model's figures.
"""

from __future__ import annotations

import json
import sys
from typing import Any

SHOWN_BEFORE_AFTER = ("heldout_perplexity", "exact_match_seen", "exact_match_unseen", "pref_accuracy", "pref_logp_margin")
EVALUATE_KEYS = ("exact_match_seen", "exact_match_unseen", "accuracy_unseen", "pref_accuracy", "perplexity",
                 "latency_p95_ms")


def _fmt(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def stage_lines(stage: dict[str, Any]) -> list[str]:
    attempts = stage.get("attempt_history") or []
    last = attempts[-1] if attempts else {}
    metrics = last.get("metrics") or {}
    seconds = last.get("duration_seconds")
    head = f"{stage.get('name', '?'):<10} {stage.get('state', '?'):<12}"
    head += f" {seconds:7.1f} s" if isinstance(seconds, (int, float)) else " " * 10
    changes = [f"{key} {_fmt(metrics[key + '_before'])} -> {_fmt(metrics[key + '_after'])}"
               for key in SHOWN_BEFORE_AFTER if key + "_before" in metrics and key + "_after" in metrics]
    if stage.get("name") == "evaluate":
        changes = [f"{key} {_fmt(metrics[key])}" for key in EVALUATE_KEYS if key in metrics]
    return [head + ("  " + "; ".join(changes) if changes else "")]


def summarize(run: dict[str, Any]) -> str:
    lines = [f"run {run.get('run_id')}: {run.get('state')}"]
    for stage in run.get("stages") or []:
        lines += stage_lines(stage)
    return "\n".join(lines)


def main() -> int:
    print(summarize(json.load(sys.stdin)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
