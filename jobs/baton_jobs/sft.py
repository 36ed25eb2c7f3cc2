"""sft: instruction tuning with TRL's SFTTrainer and LoRA (PEFT).

    python -m baton_jobs.sft        (inputs: model [, instructions, dataset]; outputs: model)

Instruction pairs ``{"instruction", "input", "output"}`` (input ``instructions``, else param
``instructions``, else the shipped ``data/instructions.jsonl``) become prompt/completion
examples rendered with the model's chat template (ChatML); the loss is on the assistant's
answer only.

Replay against forgetting: with ``text_share`` > 0 and the pre-training text (input
``dataset``, the preprocessed corpus cpt trained on), that share of the training examples
is plain corpus text with the loss on every token, so the model keeps the language model
cpt made while it learns the task (without it, full-weight sft of the tiny model sends the
held-out text's perplexity from ~10^2 to ~10^6).

Reports the task accuracy on the test set (input ``testset``, else the shipped
``data/testset.jsonl``; overall and per split: ``accuracy_unseen_before`` /
``accuracy_unseen_after``, ...) of the input model and of the trained one.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path
from typing import Any, Optional

import baton_job

from . import prompts
from .data import data_path, read_records, read_texts, resolve_path
from .profiles import stage_settings
from .quality import before_after, measure
from .runtime import log, stage_main
from .train import TrainSpec, run_training, work_dir

STAGE = "sft"


def examples(path: Path, system: Optional[str]) -> list[dict[str, Any]]:
    return [prompts.instruction_example(r, system) for r in read_records(path)]


def text_pieces(text: str, max_chars: int) -> list[str]:
    """`text` cut at spaces into pieces of at most `max_chars` characters (a word longer than
    that is a piece of its own); `max_chars` <= 0 keeps the text whole."""
    if max_chars <= 0:
        return [text]
    pieces: list[str] = []
    for word in text.split():
        if pieces and len(pieces[-1]) + 1 + len(word) <= max_chars:
            pieces[-1] += " " + word
        else:
            pieces.append(word)
    return pieces


def replay_texts(texts: list[str], n_tasks: int, share: float, seed: int, max_chars: int = 0) -> list[str]:
    """Corpus text making up `share` of a training set that has `n_tasks` task examples: the
    corpus cut into pieces of at most `max_chars` characters, shuffled, repeated as often as
    needed. (A batch is padded to its longest example: pieces as short as the task's chats
    keep the padding, and the CPU time, down.)"""
    if not 0 <= share < 1:
        raise ValueError(f"sft text_share must be in [0, 1), not {share}")
    order = [piece for text in texts for piece in text_pieces(text, max_chars)]
    wanted = round(n_tasks * share / (1 - share)) if order else 0
    random.Random(seed).shuffle(order)
    return [order[i % len(order)] for i in range(wanted)]


def rendered(tokenizer, example: dict[str, Any]) -> dict[str, str]:
    """A conversational example as plain prompt/completion strings in the model's chat template
    (so task chats and replayed text share one dataset; the loss stays on the completion)."""
    prompt = tokenizer.apply_chat_template(example["prompt"], tokenize=False, add_generation_prompt=True)
    chat = tokenizer.apply_chat_template(example["prompt"] + example["completion"], tokenize=False)
    if not chat.startswith(prompt):
        raise ValueError("the chat template renders the prompt differently on its own and in the chat")
    return {"prompt": prompt, "completion": chat[len(prompt):]}


def build_trainer(config: dict[str, Any], callbacks: list):
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    from .train import prepare_model, training_args

    settings = config["settings"]
    prepared = prepare_model(config["model_ref"], settings, world_size=int(config.get("world_size", 1)))
    tasks = [rendered(prepared.tokenizer, e) for e in examples(Path(config["instructions"]), settings.get("system_prompt"))]
    corpus = read_texts(Path(config["corpus"])) if config.get("corpus") else []
    texts = replay_texts(corpus, len(tasks), float(settings.get("text_share", 0)), int(settings.get("seed", 42)),
                         int(settings.get("text_max_chars", 0)))
    dataset = Dataset.from_list(tasks + [{"prompt": "", "completion": t} for t in texts])
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
          heldout: Path, corpus: Optional[Path] = None, emit: bool = True, model_md5: Optional[str] = None):
    """Run the stage: returns the TrainOutcome; the model is in out_root/model. `corpus` is the
    pre-training text replayed in ``text_share`` of the examples; the held-out text's perplexity
    before and after shows what the replay keeps."""
    settings = stage_settings(STAGE, params)
    model_dir, instructions, out_root = model_dir.resolve(), instructions.resolve(), out_root.resolve()
    n = len(examples(instructions, settings.get("system_prompt")))  # validates every record before any training
    if n == 0:
        raise ValueError(f"no instruction pairs in {instructions}")
    if float(settings.get("text_share", 0)) > 0 and corpus is None:
        raise ValueError("sft text_share > 0 needs the pre-training text (input 'dataset')")
    scratch = work_dir(out_root, STAGE)
    config = {"settings": settings, "model_ref": str(model_dir), "instructions": str(instructions),
              "corpus": str(corpus.resolve()) if corpus else None, "work_dir": str(scratch)}
    manifest = {"base_model": str(model_dir), "inputs": {"model": model_md5}, "examples": n}
    tests, held = read_records(testset), read_texts(heldout)
    try:
        before = measure(model_dir, settings, testset=tests, heldout=held)
        outcome = run_training(TrainSpec(STAGE, "baton_jobs.sft:build_trainer", config, manifest), out_root / "model", emit=emit)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    change = before_after(before, measure(outcome.out_dir, settings, testset=tests, heldout=held))
    outcome.summary.update(change)
    if emit:
        baton_job.emit_metrics(change, step=int(outcome.summary.get("train_steps", 0)))
    log(STAGE, f"unseen exact match {change['exact_match_unseen_before']:.3f} -> {change['exact_match_unseen_after']:.3f}, "
               f"held-out perplexity {change['heldout_perplexity_before']:.1f} -> {change['heldout_perplexity_after']:.1f}")
    return outcome


def run(contract: baton_job.Contract):
    model = contract.input("model")
    outcome = train(
        resolve_path(model.uri, model.md5),
        data_path(contract, "instructions"),
        contract.output_root,
        contract.params,
        testset=data_path(contract, "testset"),
        heldout=data_path(contract, "heldout"),
        corpus=data_path(contract, "dataset") if "dataset" in contract.inputs else None,
        model_md5=model.md5,
    )
    baton_job.emit_output("model", outcome.out_dir)
    return outcome


def main() -> int:
    return stage_main(STAGE, run)


if __name__ == "__main__":
    raise SystemExit(main())
