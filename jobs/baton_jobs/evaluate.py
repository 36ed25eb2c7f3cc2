"""evaluate: accuracy on held-out prompts, perplexity on held-out text, generation latency.

    python -m baton_jobs.evaluate        (inputs: model [, testset, heldout]; outputs: report)

- ``accuracy``: share of test prompts whose generation (its first line, up to the end of
  the assistant turn) contains the expected answer after normalisation (NFKC, lower case,
  no spaces or sentence punctuation), as the original design measured it;
- ``exact_match``: share whose normalised generation equals the expected answer;
- ``perplexity``: exp of the mean token negative log-likelihood of the held-out text;
- ``latency_p50_ms`` / ``latency_p95_ms`` (and mean): wall time of each generation, one
  prompt at a time (what a serving request sees), greedy decoding, ``max_new_tokens``;
- ``tokens_per_s``: generated tokens per second over all prompts;
- ``accuracy_<split>`` when records carry a ``split``: the shipped test set marks prompts
  whose question also appears in the instruction data ``seen`` (did SFT take?) and the
  others ``unseen`` (does it generalise?).

Test set ``{"prompt", "expected"}``: input ``testset``, else param ``testset``, else
``data/testset.jsonl``; held-out text ``{"text"}``: ``heldout`` likewise
(``data/heldout.jsonl``). The report folder holds ``report.json`` with every generation.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any, Optional

import baton_job

from . import prompts
from .data import data_path, read_records, read_texts, resolve_path, write_json
from .profiles import stage_settings
from .runtime import cuda_available, log, stage_main

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


def load_for_inference(model_dir: Path, settings: dict[str, Any]):
    import torch

    from .runtime import set_torch_threads
    from .train import load_model, load_tokenizer, stop_token_ids

    set_torch_threads(settings)
    tokenizer = load_tokenizer(str(model_dir))
    model = load_model(str(model_dir), settings, quantize=bool(settings.get("load_in_4bit")) and cuda_available())
    if cuda_available() and not getattr(model, "is_loaded_in_4bit", False):
        model = model.to("cuda")
    model.eval()
    model.generation_config.eos_token_id = stop_token_ids(tokenizer)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    torch.manual_seed(int(settings.get("seed", 42)))
    return model, tokenizer


def generate(model, tokenizer, messages: list[dict[str, str]], max_new_tokens: int) -> tuple[str, int, float]:
    """Greedy generation for one prompt: (text, new tokens, seconds)."""
    import torch

    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    enc = tokenizer(text, return_tensors="pt", add_special_tokens=False)
    enc = {k: v.to(model.device) for k, v in enc.items()}
    started = time.perf_counter()
    with torch.no_grad():
        out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False,
                             pad_token_id=tokenizer.pad_token_id)
    if model.device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    new = out[0, enc["input_ids"].shape[1]:]
    return tokenizer.decode(new, skip_special_tokens=False), int(new.shape[0]), seconds


def perplexity(model, tokenizer, texts: list[str], max_length: int, batch_size: int = 8) -> tuple[float, int]:
    """exp(mean NLL per predicted token) over texts (each text followed by end-of-text)."""
    import torch

    nll, count = 0.0, 0
    eos = tokenizer.eos_token or ""
    for i in range(0, len(texts), batch_size):
        batch = [t + eos for t in texts[i:i + batch_size]]
        enc = tokenizer(batch, return_tensors="pt", padding=True, truncation=True, max_length=max_length,
                        add_special_tokens=False)
        enc = {k: v.to(model.device) for k, v in enc.items()}
        with torch.no_grad():
            logits = model(**enc).logits.float()
        targets = enc["input_ids"][:, 1:]
        mask = enc["attention_mask"][:, 1:].bool()
        logp = torch.log_softmax(logits[:, :-1], dim=-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
        nll += float(-(logp[mask]).sum())
        count += int(mask.sum())
    if count == 0:
        return float("nan"), 0
    return math.exp(nll / count), count


def evaluate(model_dir: Path, testset: Path, heldout: Path, out_dir: Path, params: dict[str, Any],
             *, emit: bool = True, model_md5: Optional[str] = None) -> dict[str, Any]:
    settings = stage_settings(STAGE, params)
    max_new = int(settings.get("max_new_tokens", 24))
    records = read_records(testset)
    if not records:
        raise ValueError(f"empty test set {testset}")
    for r in records:
        if not str(r.get("expected", "")).strip():
            raise ValueError(f"test record {r.get('id', '?')!r} has no 'expected' answer")
    texts = read_texts(heldout)

    model, tokenizer = load_for_inference(model_dir, settings)
    generate(model, tokenizer, prompts.eval_prompt(records[0]), 2)  # warm-up, not timed

    items, latencies, new_tokens = [], [], 0
    for r in records:
        text, n_new, seconds = generate(model, tokenizer, prompts.eval_prompt(r), max_new)
        answer = prompts.first_line(text)
        contains = prompts.answer_contains(text, r["expected"])
        exact = prompts.answer_exact(text, r["expected"])
        items.append({"id": r.get("id"), "split": r.get("split"), "prompt": r["prompt"], "expected": r["expected"], "generation": answer,
                      "contains": contains, "exact": exact, "latency_ms": round(seconds * 1000, 3), "new_tokens": n_new})
        latencies.append(seconds * 1000)
        new_tokens += n_new
    ppl, ppl_tokens = perplexity(model, tokenizer, texts, int(settings.get("max_length", 512))) if texts else (float("nan"), 0)

    n = len(items)
    metrics = {
        "accuracy": sum(i["contains"] for i in items) / n,
        "exact_match": sum(i["exact"] for i in items) / n,
        "perplexity": ppl,
        "heldout_tokens": ppl_tokens,
        "latency_p50_ms": percentile(latencies, 50),
        "latency_p95_ms": percentile(latencies, 95),
        "latency_mean_ms": sum(latencies) / n,
        "tokens_per_s": new_tokens / (sum(latencies) / 1000) if sum(latencies) > 0 else 0.0,
        "examples": n,
    }
    for split in sorted({i["split"] for i in items if i["split"]}):
        part = [i for i in items if i["split"] == split]
        metrics[f"accuracy_{split}"] = sum(i["contains"] for i in part) / len(part)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(out_dir / "report.json", {
        "model": {"path": str(model_dir), "md5": model_md5},
        "settings": {"max_new_tokens": max_new, "profile": settings["profile"], "decoding": "greedy"},
        "metrics": {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in metrics.items()},
        "items": items,
    })
    if emit:
        baton_job.emit_metrics(metrics)
    log(STAGE, f"accuracy {metrics['accuracy']:.3f}, exact {metrics['exact_match']:.3f}, perplexity {ppl:.2f}, "
               f"p50 {metrics['latency_p50_ms']:.1f} ms, p95 {metrics['latency_p95_ms']:.1f} ms")
    return metrics


def run(contract: baton_job.Contract) -> dict[str, Any]:
    model = contract.input("model")
    out_dir = contract.output_path("report")
    metrics = evaluate(resolve_path(model.uri, model.md5), data_path(contract, "testset"), data_path(contract, "heldout"),
                       out_dir, contract.params, model_md5=model.md5)
    baton_job.emit_output("report", out_dir)
    return metrics


def main() -> int:
    return stage_main(STAGE, run)


if __name__ == "__main__":
    raise SystemExit(main())
