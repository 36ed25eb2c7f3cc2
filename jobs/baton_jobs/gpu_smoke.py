"""A few steps of each training stage on a real model class: memory and tokens/s per stage.

    cd jobs && python -m baton_jobs.gpu_smoke --model /models/Qwen2.5-7B [--steps 5]

Runs the cpt, sft and rlhf trainers exactly as the stages build them (``full`` profile:
4-bit NF4 base on a GPU, LoRA via PEFT, bf16, FlashAttention 2 when installed, else SDPA),
each for ``--steps`` optimizer steps on the shipped data, from a model folder on local disk
(nothing is downloaded: ``HF_HUB_OFFLINE=1``). Prints one JSON line per stage::

    {"stage": "sft", "steps": 5, "seconds": 12.3, "tokens": 40960, "tokens_per_s": 3330.1,
     "peak_memory_gib": 9.8, "device": "NVIDIA H200", "attention": "flash_attention_2",
     "final_loss": 1.92}

``tokens`` counts the non-padding tokens the trainer saw (for DPO, chosen and rejected
sequences). A GPU-hours estimate for a full run is ``total corpus tokens / tokens_per_s``.
On a machine without a GPU the same code runs in float32 on the CPU (the tests do so with
a tiny random model of the same class).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from .data import DATA_DIR
from .profiles import stage_settings
from .runtime import cuda_available, quiet_libraries

STAGES = ("cpt", "sft", "rlhf")


def smoke_stage(stage: str, model: str, steps: int, work: Path, extra: dict[str, Any]) -> dict[str, Any]:
    import importlib

    import torch

    from .train import attention_implementation

    params = {"profile": "full", "base_model": model, f"{stage}_max_steps": steps, f"{stage}_logging_steps": 1,
              **{f"{stage}_{name}": value for name, value in extra.items()}}
    settings = stage_settings(stage, params)
    config = {"settings": settings, "model_ref": model, "work_dir": str(work / stage), "world_size": 1,
              "dataset_dir": str(DATA_DIR / "sentences.txt"), "instructions": str(DATA_DIR / "instructions.jsonl"),
              "preferences": str(DATA_DIR / "preferences.jsonl")}
    from transformers.trainer_callback import PrinterCallback

    trainer = importlib.import_module(f"baton_jobs.{stage}").build_trainer(config, [])
    trainer.remove_callback(PrinterCallback)
    tokens = 0
    collate = trainer.data_collator

    def counting(features):
        nonlocal tokens
        batch = collate(features)
        for key in ("attention_mask", "chosen_attention_mask", "rejected_attention_mask"):
            if key in batch:
                tokens += int(batch[key].sum())
        if "attention_mask" not in batch and "input_ids" in batch:
            tokens += int(batch["input_ids"].numel())
        return batch

    trainer.data_collator = counting
    trainer.args.include_num_input_tokens_seen = "non_padding"  # counted by the Trainer where it can
    if cuda_available():
        torch.cuda.reset_peak_memory_stats()
        torch.cuda.synchronize()
    started = time.perf_counter()
    result = trainer.train()
    if cuda_available():
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    report = {
        "stage": stage,
        "steps": int(trainer.state.global_step),
        "seconds": round(seconds, 2),
        "tokens": tokens or int(trainer.state.num_input_tokens_seen or 0),
        "tokens_per_s": round((tokens or int(trainer.state.num_input_tokens_seen or 0)) / seconds, 1) if seconds > 0 else 0.0,
        "peak_memory_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2) if cuda_available() else None,
        "device": torch.cuda.get_device_name(0) if cuda_available() else "cpu",
        "attention": attention_implementation(),
        "final_loss": round(float(result.training_loss), 4),
    }
    del trainer
    if cuda_available():
        torch.cuda.empty_cache()
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=os.environ.get("BATON_BASE_MODEL"),
                        help="a local model folder (default: $BATON_BASE_MODEL)")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--stages", default=",".join(STAGES))
    parser.add_argument("--param", action="append", default=[], help="name=value (JSON): a setting of every stage, e.g. max_length=512")
    args = parser.parse_args(argv)
    if not args.model or not Path(args.model).is_dir():
        parser.error(f"--model must be a local model folder (got {args.model!r}); nothing is downloaded")
    os.environ["HF_HUB_OFFLINE"] = "1"
    quiet_libraries()
    extra = {}
    for item in args.param:
        name, _, value = item.partition("=")
        extra[name] = json.loads(value)
    with tempfile.TemporaryDirectory(prefix="baton-gpu-smoke-") as work:
        for stage in args.stages.split(","):
            print(json.dumps(smoke_stage(stage, args.model, args.steps, Path(work), extra)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
