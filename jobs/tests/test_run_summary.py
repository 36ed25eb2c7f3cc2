"""The demo's per-run summary of `baton runs show --json`."""

from __future__ import annotations

from baton_jobs.run_summary import summarize


def test_summary_shows_wall_times_and_before_after():
    run = {"run_id": "r1", "state": "rejected_by_gate", "stages": [
        {"name": "sft", "state": "succeeded", "attempt_history": [{"duration_seconds": 61.5, "metrics": {
            "exact_match_unseen_before": 0.0, "exact_match_unseen_after": 0.97, "loss": 0.1}}]},
        {"name": "evaluate", "state": "succeeded", "attempt_history": [{"duration_seconds": 9.0, "metrics": {
            "exact_match_unseen": 0.97, "perplexity": 120.5}}]},
        {"name": "register", "state": "skipped", "attempt_history": []},
    ]}
    lines = summarize(run).splitlines()
    assert lines[0] == "run r1: rejected_by_gate"
    assert "61.5 s" in lines[1] and "exact_match_unseen 0.000 -> 0.970" in lines[1] and "loss" not in lines[1]
    assert "exact_match_unseen 0.970; perplexity 120.500" in lines[2]
    assert lines[3].split() == ["register", "skipped"]
