"""What a model is worth, measured the same way by every stage (before and after it trains).

- ``answers``: greedy answers to test prompts, generated in batches (left padding), and the
  task accuracy per split (``accuracy``: the expected answer is contained in the first line;
  ``exact_match``: equal after normalisation; see ``prompts``);
- ``preference_accuracy``: on preference pairs, the share where the model gives the chosen
  answer a higher log-likelihood than the rejected one (what DPO should raise), and the mean
  log-likelihood margin;
- ``perplexity``: exp of the mean token negative log-likelihood of held-out text (what
  continued pre-training should lower).

The cpt, sft and rlhf stages report the metric their training should move, measured on
their input model and on their output (``<metric>_before`` / ``<metric>_after``); evaluate
reports all of them for the final model.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Mapping, Optional

from . import prompts


def _batches(items: list, size: int) -> Iterable[list]:
    for i in range(0, len(items), max(1, size)):
        yield items[i:i + size]


def answers(model, tokenizer, records: list[Mapping[str, Any]], *, system: Optional[str], max_new_tokens: int,
            batch_size: int = 32) -> list[str]:
    """The first line of the model's greedy answer to each record's ``prompt``."""
    import torch

    texts = [tokenizer.apply_chat_template(prompts.eval_prompt(r, system), tokenize=False, add_generation_prompt=True)
             for r in records]
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"  # generation continues every prompt at the same position
    out: list[str] = []
    try:
        for batch in _batches(texts, batch_size):
            enc = tokenizer(batch, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
            with torch.no_grad():
                generated = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False,
                                           pad_token_id=tokenizer.pad_token_id)
            for row in generated[:, enc["input_ids"].shape[1]:]:
                out.append(prompts.first_line(tokenizer.decode(row, skip_special_tokens=False)))
    finally:
        tokenizer.padding_side = side
    return out


def task_accuracy(records: list[Mapping[str, Any]], generations: list[str]) -> dict[str, float]:
    """``accuracy`` and ``exact_match``, overall and per ``split`` (``accuracy_unseen``, ...)."""
    scored = [(r.get("split"), prompts.answer_contains(g, r["expected"]), prompts.answer_exact(g, r["expected"]))
              for r, g in zip(records, generations)]
    metrics: dict[str, float] = {}
    for split in [None] + sorted({s for s, _, _ in scored if s}):
        part = [(c, e) for s, c, e in scored if split is None or s == split]
        suffix = f"_{split}" if split else ""
        metrics[f"accuracy{suffix}"] = sum(c for c, _ in part) / len(part)
        metrics[f"exact_match{suffix}"] = sum(e for _, e in part) / len(part)
    return metrics


def _completion_logprobs(model, tokenizer, prompt_texts: list[str], completions: list[str]) -> list[float]:
    """Sum of log p(completion tokens | prompt) for each pair, in one padded batch."""
    import torch

    ids, starts = [], []
    for prompt, completion in zip(prompt_texts, completions):
        p = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        c = tokenizer(completion, add_special_tokens=False)["input_ids"]
        ids.append(p + c)
        starts.append(len(p))
    width = max(len(x) for x in ids)
    pad = tokenizer.pad_token_id
    input_ids = torch.tensor([x + [pad] * (width - len(x)) for x in ids], device=model.device)
    mask = torch.tensor([[1] * len(x) + [0] * (width - len(x)) for x in ids], device=model.device)
    with torch.no_grad():
        logp = torch.log_softmax(model(input_ids=input_ids, attention_mask=mask).logits.float(), dim=-1)
    token_logp = logp[:, :-1].gather(-1, input_ids[:, 1:].unsqueeze(-1)).squeeze(-1)
    return [float(token_logp[i, starts[i] - 1:len(x) - 1].sum()) for i, x in enumerate(ids)]


def preference_accuracy(model, tokenizer, pairs: list[Mapping[str, Any]], *, system: Optional[str],
                        batch_size: int = 32) -> dict[str, float]:
    """``pref_accuracy`` (chosen more likely than rejected) and ``pref_logp_margin`` (mean nats)."""
    wins, margins = 0, []
    end = prompts.IM_END
    for batch in _batches(list(pairs), batch_size):
        heads = [tokenizer.apply_chat_template(prompts.prompt_messages(prompts.user_content(p["prompt"]), system),
                                               tokenize=False, add_generation_prompt=True) for p in batch]
        chosen = _completion_logprobs(model, tokenizer, heads, [p["chosen"] + end for p in batch])
        rejected = _completion_logprobs(model, tokenizer, heads, [p["rejected"] + end for p in batch])
        for c, r in zip(chosen, rejected):
            wins += c > r
            margins.append(c - r)
    n = max(1, len(margins))
    return {"pref_accuracy": wins / n, "pref_logp_margin": sum(margins) / n}


def perplexity(model, tokenizer, texts: list[str], max_length: int, batch_size: int = 8) -> tuple[float, int]:
    """exp(mean NLL per predicted token) over texts (each followed by end-of-text), and the token count."""
    import torch

    nll, count = 0.0, 0
    eos = tokenizer.eos_token or ""
    side = tokenizer.padding_side
    tokenizer.padding_side = "right"
    try:
        for batch in _batches([t + eos for t in texts], batch_size):
            enc = tokenizer(batch, return_tensors="pt", padding=True, truncation=True, max_length=max_length,
                            add_special_tokens=False).to(model.device)
            with torch.no_grad():
                logits = model(**enc).logits.float()
            targets = enc["input_ids"][:, 1:]
            mask = enc["attention_mask"][:, 1:].bool()
            logp = torch.log_softmax(logits[:, :-1], dim=-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
            nll += float(-(logp[mask]).sum())
            count += int(mask.sum())
    finally:
        tokenizer.padding_side = side
    if count == 0:
        return float("nan"), 0
    return math.exp(nll / count), count


def load_for_inference(model_dir, settings: dict[str, Any]):
    """A saved model folder, ready to generate (4-bit on GPUs when the profile says so)."""
    import torch

    from .runtime import cuda_available, set_torch_threads
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


def measure(model_dir, settings: dict[str, Any], *, testset: Optional[list] = None, pairs: Optional[list] = None,
            heldout: Optional[list[str]] = None) -> dict[str, float]:
    """Load `model_dir` and measure what is asked: task accuracy on `testset` records,
    preference accuracy on `pairs`, perplexity of `heldout` texts."""
    model, tokenizer = load_for_inference(model_dir, settings)
    system = settings.get("system_prompt")
    metrics: dict[str, float] = {}
    if testset:
        generations = answers(model, tokenizer, testset, system=system,
                              max_new_tokens=int(settings.get("answer_tokens", 12)))
        metrics.update(task_accuracy(testset, generations))
    if pairs:
        metrics.update(preference_accuracy(model, tokenizer, pairs, system=system))
    if heldout:
        metrics["heldout_perplexity"] = perplexity(model, tokenizer, heldout, int(settings.get("max_length", 512)))[0]
    del model
    return metrics


def before_after(before: Mapping[str, float], after: Mapping[str, float]) -> dict[str, float]:
    """``{key}_before`` and ``{key}_after`` for every key measured both times."""
    out: dict[str, float] = {}
    for key in sorted(set(before) & set(after)):
        out[f"{key}_before"], out[f"{key}_after"] = float(before[key]), float(after[key])
    return out
