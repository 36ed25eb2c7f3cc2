"""evaluate: task accuracy (seen and unseen), preference accuracy, perplexity, latency.

    python -m baton_jobs.evaluate        (inputs: model [, testset, heldout, preferences]; outputs: report)

- ``accuracy``: share of test prompts whose greedy answer (its first line, up to the end of
  the assistant turn) contains the expected answer after normalisation (NFKC, lower case,
  no spaces or sentence punctuation), as the original design measured it; ``exact_match``:
  share whose normalised answer equals the expected one. Both also per ``split`` of the
  records: the shipped test set's ``seen`` prompts were trained on, its ``unseen`` ones are
  new combinations (``accuracy_unseen`` is what the reference pipeline's gate reads);
- ``pref_accuracy``: share of the held-out preference pairs whose chosen answer the model
  finds more likely than the rejected one (``pref_logp_margin``: the mean margin in nats);
- ``perplexity``: exp of the mean token negative log-likelihood of the held-out text;
- ``latency_p50_ms`` / ``latency_p95_ms`` (and mean): wall time of a greedy generation of
  one prompt at a time (what a serving request sees) over ``latency_samples`` prompts;
  ``tokens_per_s``: their generated tokens per second.

Test set ``{"prompt", "expected", "split"}``: input ``testset``, else param ``testset``, else
``data/testset.jsonl``; held-out text ``{"text"}`` and preference pairs likewise
(``data/heldout.jsonl``, ``data/preferences.jsonl``). The report folder holds
``report.json`` with every answer.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any, Optional

import baton_job

from . import prompts, quality
from .data import data_path, read_records, read_texts, resolve_path, write_json
from .profiles import stage_settings
from .rlhf import split_pairs
from .runtime import log, stage_main

STAGE = "evaluate"


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default method), q in [0, 100]."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    if lo == hi:
        return float(ordered[lo])
    return float(ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo))


def timed_generation(model, tokenizer, messages: list[dict[str, str]], max_new_tokens: int) -> tuple[int, float]:
    """Greedy generation for one prompt: (new tokens, seconds)."""
    import torch

    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    enc = tokenizer(text, return_tensors="pt", add_special_tokens=False).to(model.device)
    started = time.perf_counter()
    with torch.no_grad():
        out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    if model.device.type == "cuda":
        torch.cuda.synchronize()
    return int(out.shape[1] - enc["input_ids"].shape[1]), time.perf_counter() - started


def latency(model, tokenizer, records: list[dict], system: Optional[str], max_new_tokens: int) -> dict[str, float]:
    timed_generation(model, tokenizer, prompts.eval_prompt(records[0], system), 2)  # warm-up, not timed
    runs = [timed_generation(model, tokenizer, prompts.eval_prompt(r, system), max_new_tokens) for r in records]
    millis = [seconds * 1000 for _, seconds in runs]
    total_s = sum(seconds for _, seconds in runs)
    return {
        "latency_p50_ms": percentile(millis, 50),
        "latency_p95_ms": percentile(millis, 95),
        "latency_mean_ms": sum(millis) / len(millis),
        "tokens_per_s": sum(n for n, _ in runs) / total_s if total_s > 0 else 0.0,
    }


def evaluate(model_dir: Path, testset: Path, heldout: Path, out_dir: Path, params: dict[str, Any], *,
             preferences: Optional[Path] = None, emit: bool = True, model_md5: Optional[str] = None) -> dict[str, Any]:
    settings = stage_settings(STAGE, params)
    max_new = int(settings.get("max_new_tokens", 24))
    system = settings.get("system_prompt")
    records = read_records(testset)
    if not records:
        raise ValueError(f"empty test set {testset}")
    for r in records:
        if not str(r.get("expected", "")).strip():
            raise ValueError(f"test record {r.get('id', '?')!r} has no 'expected' answer")
    texts = read_texts(heldout)
    pairs = split_pairs(read_records(preferences), float(settings.get("eval_fraction", 0.2)))[1] if preferences else []

    model, tokenizer = quality.load_for_inference(model_dir, settings)
    answers = quality.answers(model, tokenizer, records, system=system, max_new_tokens=max_new,
                              batch_size=int(settings.get("batch_size", 8)))
    metrics: dict[str, Any] = quality.task_accuracy(records, answers)
    if pairs:
        metrics.update(quality.preference_accuracy(model, tokenizer, pairs, system=system))
    ppl, ppl_tokens = quality.perplexity(model, tokenizer, texts, int(settings.get("max_length", 512))) if texts else (float("nan"), 0)
    metrics.update(perplexity=ppl, heldout_tokens=ppl_tokens, examples=len(records))
    metrics.update(latency(model, tokenizer, records[:max(1, int(settings.get("latency_samples", 20)))], system, max_new))
    items = [{"id": r.get("id"), "split": r.get("split"), "task": r.get("task"), "prompt": r["prompt"],
              "expected": r["expected"], "answer": a, "contains": prompts.answer_contains(a, r["expected"]),
              "exact": prompts.answer_exact(a, r["expected"])} for r, a in zip(records, answers)]
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(out_dir / "report.json", {
        "model": {"path": str(model_dir), "md5": model_md5},
        "settings": {"max_new_tokens": max_new, "profile": settings["profile"], "decoding": "greedy"},
        "metrics": {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in metrics.items()},
        "items": items,
    })
    if emit:
        baton_job.emit_metrics(metrics)
    log(STAGE, "accuracy seen {:.3f} unseen {:.3f}, preferred {:.3f}, perplexity {:.1f}, p95 {:.1f} ms".format(
        metrics.get("accuracy_seen", float("nan")), metrics.get("accuracy_unseen", float("nan")),
        metrics.get("pref_accuracy", float("nan")), ppl, metrics["latency_p95_ms"]))
    return metrics


def run(contract: baton_job.Contract) -> dict[str, Any]:
    model = contract.input("model")
    out_dir = contract.output_path("report")
    metrics = evaluate(resolve_path(model.uri, model.md5), data_path(contract, "testset"), data_path(contract, "heldout"),
                       out_dir, contract.params, preferences=data_path(contract, "preferences"), model_md5=model.md5)
    baton_job.emit_output("report", out_dir)
    return metrics


def main() -> int:
    return stage_main(STAGE, run)


if __name__ == "__main__":
    raise SystemExit(main())
