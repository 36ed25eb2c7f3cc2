"""sft: instruction tuning with TRL's SFTTrainer and LoRA (PEFT).

    python -m baton_jobs.sft        (inputs: model [, instructions]; outputs: model)

Instruction pairs ``{"instruction", "input", "output"}`` (input ``instructions``, else param
``instructions``, else the shipped ``data/instructions.jsonl``) become conversational
prompt/completion examples rendered with the model's chat template (ChatML); the loss is
on the assistant's answer only.

Reports the task accuracy on the test set (input ``testset``, else the shipped
``data/testset.jsonl``; overall and per split: ``accuracy_unseen_before`` /
``accuracy_unseen_after``, ...) of the input model and of the trained one.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Optional

import baton_job

from . import prompts
from .data import data_path, read_records, resolve_path
from .profiles import stage_settings
from .quality import before_after, measure
from .runtime import log, stage_main
from .train import TrainSpec, run_training, work_dir

STAGE = "sft"


def examples(path: Path, system: Optional[str]) -> list[dict[str, Any]]:
    return [prompts.instruction_example(r, system) for r in read_records(path)]


def build_trainer(config: dict[str, Any], callbacks: list):
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    from .train import prepare_model, training_args

    settings = config["settings"]
    prepared = prepare_model(config["model_ref"], settings, world_size=int(config.get("world_size", 1)))
    dataset = Dataset.from_list(examples(Path(config["instructions"]), settings.get("system_prompt")))
    args = SFTConfig(
        **training_args(settings, str(Path(config["work_dir"]) / "trainer")),
        max_length=int(settings["max_length"]),
        packing=False,
        completion_only_loss=True,
    )
    return SFTTrainer(
        model=prepared.model,
        args=args,
        train_dataset=dataset,
        processing_class=prepared.tokenizer,
        peft_config=prepared.peft_config,
        callbacks=callbacks,
    )


def train(model_dir: Path, instructions: Path, out_root: Path, params: dict[str, Any], *, testset: Path,
          emit: bool = True, model_md5: Optional[str] = None):
    settings = stage_settings(STAGE, params)
    model_dir, instructions, out_root = model_dir.resolve(), instructions.resolve(), out_root.resolve()
    n = len(examples(instructions, settings.get("system_prompt")))  # validates every record before any training
    if n == 0:
        raise ValueError(f"no instruction pairs in {instructions}")
    scratch = work_dir(out_root, STAGE)
    config = {"settings": settings, "model_ref": str(model_dir), "instructions": str(instructions), "work_dir": str(scratch)}
    manifest = {"base_model": str(model_dir), "inputs": {"model": model_md5}, "examples": n}
    tests = read_records(testset)
    try:
        before = measure(model_dir, settings, testset=tests)
        outcome = run_training(TrainSpec(STAGE, "baton_jobs.sft:build_trainer", config, manifest), out_root / "model", emit=emit)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    change = before_after(before, measure(outcome.out_dir, settings, testset=tests))
    outcome.summary.update(change)
    if emit:
        baton_job.emit_metrics(change, step=int(outcome.summary.get("train_steps", 0)))
    log(STAGE, f"unseen task accuracy: {change.get('accuracy_unseen_before', 0):.3f} -> "
               f"{change.get('accuracy_unseen_after', 0):.3f}")
    return outcome


def run(contract: baton_job.Contract):
    model = contract.input("model")
    outcome = train(
        resolve_path(model.uri, model.md5),
        data_path(contract, "instructions"),
        contract.output_root,
        contract.params,
        testset=data_path(contract, "testset"),
        model_md5=model.md5,
    )
    baton_job.emit_output("model", outcome.out_dir)
    return outcome


def main() -> int:
    return stage_main(STAGE, run)


if __name__ == "__main__":
    raise SystemExit(main())
