"""cpt: continued pre-training on the preprocessed corpus (TRL SFTTrainer on raw text).

    python -m baton_jobs.cpt        (inputs: dataset; outputs: model)

tiny: trains a byte-level BPE tokenizer on the corpus and the instruction data's chats (so
every syllable the task uses is a token), builds a small Llama from a config and trains all
of its weights (a random model has nothing for LoRA to adapt).
full: LoRA (r = lora_rank) on a 4-bit base model from a local folder (param ``base_model``,
else ``$BATON_BASE_MODEL``; ``profiles.base_model_path``), optionally with trainable
embeddings and LM head (``cpt_train_embeddings``).
Texts are packed into ``max_length`` blocks separated by the end-of-text token.

Reports ``heldout_perplexity_before`` / ``heldout_perplexity_after``: the perplexity of the
held-out Korean text (input ``heldout``, else the shipped ``data/heldout.jsonl``) under the
model the stage starts from and the one it made.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import baton_job

from . import prompts
from .data import data_path, read_records, read_texts, resolve_path
from .profiles import base_model_path, stage_settings
from .quality import before_after, measure
from .runtime import log, stage_main
from .train import TrainSpec, build_tiny_model, run_training, train_tokenizer, work_dir

STAGE = "cpt"


def build_trainer(config: dict[str, Any], callbacks: list):
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    from .train import prepare_model, training_args

    settings = config["settings"]
    prepared = prepare_model(config["model_ref"], settings, world_size=int(config.get("world_size", 1)))
    texts = read_texts(Path(config["dataset_dir"]))
    dataset = Dataset.from_dict({"text": texts})
    args = SFTConfig(
        **training_args(settings, str(Path(config["work_dir"]) / "trainer")),
        dataset_text_field="text",
        max_length=int(settings["max_length"]),
        packing=bool(settings.get("packing", True)),
        packing_strategy="wrapped",
        eos_token=prepared.tokenizer.eos_token,
    )
    return SFTTrainer(
        model=prepared.model,
        args=args,
        train_dataset=dataset,
        processing_class=prepared.tokenizer,
        peft_config=prepared.peft_config,
        callbacks=callbacks,
    )


def chat_texts(instructions: Path, system: str | None) -> list[str]:
    """The instruction pairs as the chats SFT will train on (for the tiny tokenizer)."""
    texts = []
    for record in read_records(instructions):
        example = prompts.instruction_example(record, system)
        texts.append(prompts.render_chat(example["prompt"] + example["completion"]))
    return texts


def train(dataset_dir: Path, out_root: Path, params: dict[str, Any], *, instructions: Path, heldout: Path,
          emit: bool = True, dataset_md5: str | None = None):
    """Run the stage: returns the TrainOutcome; the model is in out_root/model."""
    settings = stage_settings(STAGE, params)
    dataset_dir, out_root = dataset_dir.resolve(), out_root.resolve()
    texts = read_texts(dataset_dir)
    if not texts:
        raise ValueError(f"no training text under {dataset_dir}")
    scratch = work_dir(out_root, STAGE)
    out_dir = out_root / "model"
    manifest: dict[str, Any] = {"inputs": {"dataset": dataset_md5}} if dataset_md5 else {}
    if settings["profile"] == "tiny":
        tokenizer = train_tokenizer(texts + chat_texts(instructions, settings.get("system_prompt")),
                                    int(settings.get("vocab_size", 2048)))
        model = build_tiny_model(tokenizer, settings)
        init = scratch / "init"
        model.save_pretrained(str(init))
        tokenizer.save_pretrained(str(init))
        model_ref = str(init)
        manifest["base_model"] = "llama-from-config"
        manifest["tokenizer"] = f"byte-level BPE trained on the corpus, {len(tokenizer)} tokens"
        log(STAGE, f"tiny Llama: {sum(p.numel() for p in model.parameters()):,} parameters, vocab {len(tokenizer)}")
    else:
        model_ref = base_model_path(settings)
        manifest["base_model"] = model_ref
    config = {"settings": settings, "model_ref": model_ref, "dataset_dir": str(dataset_dir), "work_dir": str(scratch)}
    held = read_texts(heldout)
    try:
        before = measure(model_ref, settings, heldout=held)
        outcome = run_training(TrainSpec(STAGE, "baton_jobs.cpt:build_trainer", config, manifest), out_dir, emit=emit)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    change = before_after(before, measure(out_dir, settings, heldout=held))
    outcome.summary.update(change)
    if emit:
        baton_job.emit_metrics(change, step=int(outcome.summary.get("train_steps", 0)))
    log(STAGE, f"held-out perplexity: {change['heldout_perplexity_before']:.1f} -> {change['heldout_perplexity_after']:.1f}")
    return outcome


def run(contract: baton_job.Contract):
    dataset = contract.input("dataset")
    dataset_dir = resolve_path(dataset.uri, dataset.md5)
    out_root = contract.output_root
    out_root.mkdir(parents=True, exist_ok=True)
    outcome = train(dataset_dir, out_root, contract.params, instructions=data_path(contract, "instructions"),
                    heldout=data_path(contract, "heldout"), dataset_md5=dataset.md5)
    baton_job.emit_output("model", outcome.out_dir)
    return outcome


def main() -> int:
    return stage_main(STAGE, run)


if __name__ == "__main__":
    raise SystemExit(main())
