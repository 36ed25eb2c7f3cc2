"""Watches the served model on live traffic and exports what the retraining alerts read.

Every ``--interval`` seconds it sends a sample of the labelled test prompts through the serving
route (as any client would, so the canary router's own probe counter sees them too), scores each
answer as the evaluate stage does (exact match after normalisation), and sets

  baton_model_live_accuracy{model}  the share of correct answers in the last round;
  baton_model_drift_score{model}    the Jensen-Shannon divergence (base 2, 0 = same, 1 = disjoint)
                                    between the syllables of recent prompts (the last lines of
                                    ``--prompts``, a JSON-lines log with a "prompt" field) and
                                    those of the training corpus; absent without ``--prompts``.

on ``/metrics`` (``--port``, 127.0.0.1). Register it with Prometheus (file_sd, a PodMonitor), and
the rules BatonModelAccuracyLow / BatonModelDriftHigh (deploy/monitoring) fire on it, which
Alertmanager turns into a retraining run through a pipeline's ``triggers:``.

    python -m baton_jobs.watch --url http://127.0.0.1:8010/korean-llm --model korean-llm \\
        --testset data/testset.jsonl --corpus data/corpus.jsonl [--prompts prompts.jsonl] [--once]

``--once`` measures one round and prints it as JSON instead of serving.
"""

from __future__ import annotations

import argparse
import collections
import json
import math
import random
import sys
import time
import urllib.request
from pathlib import Path
from typing import Callable, Iterable, Mapping, Optional

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "serve"))
from baton_serve.routing import probe_outcome  # noqa: E402

MAX_PROMPT_LINES = 10_000  # the most recent prompts read from --prompts
MAX_ANSWER_BYTES = 64 * 1024
_open = urllib.request.build_opener(urllib.request.ProxyHandler({})).open


def syllables(texts: Iterable[str]) -> collections.Counter:
    """How often each Hangul syllable occurs in `texts`."""
    return collections.Counter(ch for text in texts for ch in text if "\uac00" <= ch <= "\ud7a3")


def js_divergence(p: Mapping[str, int], q: Mapping[str, int]) -> float:
    """Jensen-Shannon divergence of two count tables, base 2: 0 for the same distribution, 1 for
    disjoint ones; 0 when either is empty (nothing to compare)."""
    total_p, total_q = sum(p.values()), sum(q.values())
    if not total_p or not total_q:
        return 0.0
    divergence = 0.0
    for key in set(p) | set(q):
        a, b = p.get(key, 0) / total_p, q.get(key, 0) / total_q
        m = (a + b) / 2
        if a:
            divergence += a / 2 * math.log2(a / m)
        if b:
            divergence += b / 2 * math.log2(b / m)
    return min(1.0, max(0.0, divergence))


def recent_prompts(path: Path, limit: int = MAX_PROMPT_LINES) -> list[str]:
    """The prompts of the last `limit` lines of a JSON-lines log (lines that are not JSON objects
    with a string "prompt" are skipped)."""
    lines = collections.deque(path.read_text(encoding="utf-8", errors="replace").splitlines(), maxlen=limit)
    prompts = []
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and isinstance(record.get("prompt"), str):
            prompts.append(record["prompt"][:2000])
    return prompts


def ask(url: str, timeout: float) -> Callable[[str], str]:
    """A function that posts a prompt to the serving route and returns the model's output."""

    def call(prompt: str) -> str:
        body = json.dumps({"prompt": prompt}).encode()
        request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
        with _open(request, timeout=timeout) as response:
            answer = json.loads(response.read(MAX_ANSWER_BYTES))
        return str(answer.get("output", "")) if isinstance(answer, dict) else ""

    return call


def live_accuracy(items: list[Mapping[str, str]], answer: Callable[[str], str]) -> Optional[float]:
    """The share of `items` answered correctly; a call that fails counts as wrong; None for no items."""
    if not items:
        return None
    correct = 0
    for item in items:
        try:
            correct += probe_outcome(answer(item["prompt"]), item["expected"]) == "correct"
        except (OSError, ValueError):
            pass
    return correct / len(items)


def measure(args, answer: Callable[[str], str], corpus: collections.Counter, rng: random.Random) -> dict:
    """One round: accuracy on a sample of the test set, drift of the recent prompts."""
    testset = [json.loads(line) for line in Path(args.testset).read_text(encoding="utf-8").splitlines() if line]
    sample = rng.sample(testset, min(args.sample, len(testset)))
    result = {"model": args.model, "probes": len(sample), "live_accuracy": live_accuracy(sample, answer)}
    if args.prompts and Path(args.prompts).exists():
        result["drift_score"] = js_divergence(syllables(recent_prompts(Path(args.prompts))), corpus)
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="the serving route, e.g. http://127.0.0.1:8010/korean-llm")
    parser.add_argument("--model", required=True, help="the model's name (the metrics' model label)")
    parser.add_argument("--testset", required=True, help="labelled prompts: JSON lines with prompt and expected")
    parser.add_argument("--corpus", required=True, help="the training corpus: JSON lines with text")
    parser.add_argument("--prompts", help="recent prompts: a JSON-lines log with a prompt field")
    parser.add_argument("--sample", type=int, default=40, help="probes per round (default 40)")
    parser.add_argument("--interval", type=float, default=30, help="seconds between rounds (default 30)")
    parser.add_argument("--timeout", type=float, default=10, help="seconds one answer may take (default 10)")
    parser.add_argument("--port", type=int, default=9470, help="/metrics port on 127.0.0.1 (default 9470)")
    parser.add_argument("--once", action="store_true", help="measure one round, print it as JSON, exit")
    args = parser.parse_args(argv)
    if not 1 <= args.sample <= 10_000 or args.interval <= 0 or args.timeout <= 0:
        parser.error("--sample must be 1 to 10000, --interval and --timeout positive")
    corpus = syllables(
        json.loads(line).get("text", "") for line in Path(args.corpus).read_text(encoding="utf-8").splitlines() if line)
    rng, answer = random.Random(0), ask(args.url, args.timeout)
    if args.once:
        print(json.dumps(measure(args, answer, corpus, rng)))
        return 0
    from prometheus_client import Gauge, start_http_server

    accuracy = Gauge("baton_model_live_accuracy", "Share of labelled probes the served model answered right.",
                     ["model"])
    drift = Gauge("baton_model_drift_score", "Jensen-Shannon divergence of recent prompts from the corpus.",
                  ["model"])
    start_http_server(args.port, addr="127.0.0.1")
    while True:
        result = measure(args, answer, corpus, rng)
        if result["live_accuracy"] is not None:
            accuracy.labels(args.model).set(result["live_accuracy"])
        if "drift_score" in result:
            drift.labels(args.model).set(result["drift_score"])
        print(json.dumps(result), flush=True)
        time.sleep(args.interval)


if __name__ == "__main__":
    sys.exit(main())
