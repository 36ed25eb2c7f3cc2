"""`make gpu-smoke`'s code path on the CPU: the full profile's trainers on a tiny random Qwen2."""

from __future__ import annotations

import json
import subprocess
import sys


def test_gpu_smoke_runs_each_stage_on_a_local_model_of_the_real_class(tmp_path, jobs_root):
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from baton_jobs.train import train_tokenizer

    tokenizer = train_tokenizer(["조사: 사과(은/는) 는", "어미: 읽다(으세요/세요) 으세요"] * 20, vocab_size=400)
    config = Qwen2Config(vocab_size=448, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=2048,
                         pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
    Qwen2ForCausalLM(config).save_pretrained(tmp_path / "qwen2-tiny")
    tokenizer.save_pretrained(tmp_path / "qwen2-tiny")
    proc = subprocess.run([sys.executable, "-m", "baton_jobs.gpu_smoke", "--model", str(tmp_path / "qwen2-tiny"),
                           "--steps", "2", "--param", "max_length=256", "--param", "grad_accum=1"],
                          cwd=jobs_root, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    reports = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith('{"stage"')]
    assert [r["stage"] for r in reports] == ["cpt", "sft", "rlhf"]
    for r in reports:
        assert r["steps"] == 2 and r["tokens"] > 0 and r["tokens_per_s"] > 0 and r["device"] == "cpu", r
