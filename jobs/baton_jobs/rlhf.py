"""rlhf: preference tuning with DPO (TRL's DPOTrainer, LoRA via PEFT), after a Ray Tune
search (ASHA) over the learning rate and beta.

    python -m baton_jobs.rlhf        (inputs: model [, preferences]; outputs: model)

Preference pairs ``{"prompt", "chosen", "rejected"}`` (input ``preferences``, else param
``preferences``, else the shipped ``data/preferences.jsonl``) are split into train and
held-out pairs (by their ``split`` field, else deterministically by ``eval_fraction``).
The stage reports ``pref_accuracy_before`` / ``pref_accuracy_after``: the share of held-out
pairs whose chosen answer the model finds more likely than the rejected one, for the input
model and the trained one (and the mean log-likelihood margin, ``pref_logp_margin_*``).

The loss: DPO's (``sigmoid``), plus ``sft_weight`` times the negative log-likelihood of the
chosen answer (RPO, TRL's ``loss_type=["sigmoid", "sft"]``) when ``sft_weight`` > 0. Plain
DPO only asks the chosen answer to gain on the rejected one, and both may lose likelihood to
answers that are neither: measured on the tiny model, learning rates of 2e-3 raised the
held-out margin while the model started answering outside the task's options (unseen exact
match 0.815 -> 0.723). The NLL term keeps the chosen answer likely.

The search: ``tune_samples`` trials draw a learning rate (log-uniform in
[``tune_lr_min``, ``tune_lr_max``]) and beta (uniform in [``tune_beta_min``,
``tune_beta_max``]), each trains ``tune_steps`` steps and is evaluated on the held-out
pairs every ``tune_eval_every`` steps; ASHA stops the weak ones early. Trials are ranked
on the held-out pairs' mean log-likelihood of the *chosen* answer (``eval_logps/chosen``):
it rises only when the preferred answer becomes more likely, which is what greedy decoding
turns into right answers. (The DPO loss and reward margins depend on beta, and a wide margin
is also reached by making both answers unlikely.) The best configuration is then trained for
the stage's full ``max_steps``. ``tune_samples: 0`` skips the search and uses
``learning_rate``/``beta``.

The reference model is the input model itself (LoRA adapters disabled), as TRL does for
PEFT models, so only one copy of the weights is in memory.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path
from typing import Any, Optional

import baton_job

from . import prompts
from .data import data_path, read_records, resolve_path
from .profiles import stage_settings
from .quality import before_after, measure
from .runtime import ensure_ray, log, stage_main
from .train import TrainSpec, run_training, work_dir

STAGE = "rlhf"
OBJECTIVE = "pref_chosen_logp"


def split_pairs(records: list[dict[str, Any]], eval_fraction: float) -> tuple[list[dict], list[dict]]:
    """Train and held-out pairs: by each record's ``split`` (``heldout`` or not) when the data
    says (the shipped task's held-out pairs are combinations never trained on); otherwise a
    deterministic split by a hash of each pair's prompt (stable under reordering; at least
    one pair on each side when there are two or more)."""
    if any("split" in r for r in records):
        return [r for r in records if r.get("split") != "heldout"], [r for r in records if r.get("split") == "heldout"]

    def key(r: dict[str, Any]) -> str:
        return hashlib.md5((r.get("prompt", "") + "\x00" + r.get("chosen", "")).encode("utf-8")).hexdigest()

    ordered = sorted(records, key=key)
    n_eval = int(round(len(ordered) * eval_fraction))
    if len(ordered) >= 2:
        n_eval = min(max(n_eval, 1), len(ordered) - 1)
    else:
        n_eval = 0
    return ordered[n_eval:], ordered[:n_eval]


def loss_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """DPOConfig's loss: DPO, plus ``sft_weight`` x the chosen answer's NLL when it is > 0."""
    weight = float(settings.get("sft_weight", 0) or 0)
    if weight < 0:
        raise ValueError(f"rlhf sft_weight must be >= 0, not {weight}")
    if weight == 0:
        return {"loss_type": ["sigmoid"]}
    return {"loss_type": ["sigmoid", "sft"], "loss_weights": [1.0, weight]}


def build_trainer(config: dict[str, Any], callbacks: list):
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    from .train import prepare_model, training_args

    settings = config["settings"]
    prepared = prepare_model(config["model_ref"], settings, world_size=int(config.get("world_size", 1)))
    train_records, eval_records = split_pairs(read_records(Path(config["preferences"])), float(settings.get("eval_fraction", 0.2)))
    system = settings.get("system_prompt")
    train_ds = Dataset.from_list([prompts.preference_example(r, system) for r in train_records])
    eval_ds = Dataset.from_list([prompts.preference_example(r, system) for r in eval_records]) if eval_records else None
    eval_every = int(config.get("eval_every") or 0)
    extra: dict[str, Any] = {}
    if eval_ds is not None and eval_every > 0:
        extra.update(eval_strategy="steps", eval_steps=eval_every)
    args = DPOConfig(
        **training_args(settings, str(Path(config["work_dir"]) / "trainer"), **extra),
        **loss_settings(settings),
        beta=float(settings["beta"]),
        max_length=int(settings["max_length"]),
    )
    return DPOTrainer(
        model=prepared.model,
        ref_model=None,
        args=args,
        train_dataset=train_ds,
        eval_dataset=eval_ds,
        processing_class=prepared.tokenizer,
        peft_config=prepared.peft_config,
        callbacks=callbacks,
    )


# --------------------------------------------------------------------------- Ray Tune


def objective_from(metrics: dict[str, Any]) -> Optional[float]:
    """The search's objective from an evaluation's metrics (None before one)."""
    value = metrics.get("eval_logps/chosen")
    return None if value is None else float(value)


def tune_trial(trial_config: dict[str, Any]) -> None:
    """A Ray Tune function trainable: one DPO run, reporting after each evaluation."""
    from .train import maybe_import_unsloth

    maybe_import_unsloth(trial_config["base"]["settings"])
    import torch
    from ray import tune
    from transformers import TrainerCallback

    from .runtime import quiet_libraries

    quiet_libraries()
    base = trial_config["base"]
    settings = dict(base["settings"])
    threads = int(settings.get("torch_threads") or base.get("threads") or 0)
    if threads > 0:
        torch.set_num_threads(threads)
    settings.update(
        learning_rate=float(trial_config["learning_rate"]),
        beta=float(trial_config["beta"]),
        max_steps=int(settings["tune_steps"]),
        warmup_steps=min(int(settings.get("warmup_steps", 0)), max(0, int(settings["tune_steps"]) // 4)),
    )

    class Report(TrainerCallback):
        def on_evaluate(self, args, state, control, metrics=None, **kwargs):  # noqa: ARG002
            if not state.is_world_process_zero or not metrics:
                return
            value = objective_from(metrics)
            if value is None:
                return
            tune.report(
                {
                    OBJECTIVE: value,
                    "eval_loss": float(metrics.get("eval_loss", float("nan"))),
                    "eval_reward_accuracy": float(metrics.get("eval_rewards/accuracies", float("nan"))),
                    "step": int(state.global_step),
                }
            )

    trial_dir = tempfile.mkdtemp(prefix="trial-", dir=base["work_dir"])
    config = dict(base, settings=settings, work_dir=trial_dir, eval_every=int(settings["tune_eval_every"]))
    from transformers.trainer_callback import PrinterCallback

    trainer = build_trainer(config, [Report()])
    trainer.remove_callback(PrinterCallback)
    trainer.train()
    shutil.rmtree(trial_dir, ignore_errors=True)


def trial_resources(settings: dict[str, Any], available: dict[str, float]) -> dict[str, float]:
    """What each Tune trial reserves, given the cluster's free resources: ``tune_cpus_per_trial``
    and ``tune_gpus_per_trial``. When the CPUs are taken (other stages run; on a small head this
    entrypoint holds one itself), trials reserve no CPU and share the cores: a placement group
    needs at least one resource, so they reserve one byte of memory instead (a bundle of zero
    CPUs is refused). A GPU trial with no free GPU is an error, not a wait."""
    cpus = float(settings.get("tune_cpus_per_trial", 1))
    gpus = float(settings.get("tune_gpus_per_trial", 0))
    if gpus and available.get("GPU", 0) < gpus:
        raise RuntimeError(
            f"the Tune search needs {gpus:g} free GPU(s) per trial and the cluster has "
            f"{available.get('GPU', 0):g}; submit the rlhf entrypoint without GPUs or add GPUs"
        )
    if available.get("CPU", 0) < cpus:
        log(STAGE, f"only {available.get('CPU', 0):g} free CPU(s): trials run without a CPU reservation")
        cpus = 0.0
    resources = {"cpu": cpus}
    if gpus:
        resources["gpu"] = gpus
    if not cpus and not gpus:
        resources["memory"] = 1
    return resources


def search(base: dict[str, Any], settings: dict[str, Any], *, emit: bool = True) -> dict[str, Any]:
    """Run the ASHA search; returns {"learning_rate", "beta", "trials": [...]}."""
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search.basic_variant import BasicVariantGenerator

    ray = ensure_ray()
    samples = int(settings["tune_samples"])
    steps, every = int(settings["tune_steps"]), max(1, int(settings["tune_eval_every"]))
    rungs = max(1, steps // every)
    resources = trial_resources(settings, ray.available_resources())
    cpus = resources.get("cpu", 0.0)
    base = dict(base, threads=int(cpus) if cpus >= 1 else 1)
    concurrent = int(settings.get("tune_max_concurrent", 0)) or None

    tuner = tune.Tuner(
        tune.with_resources(tune_trial, resources),
        param_space={
            "base": base,
            "learning_rate": tune.loguniform(float(settings["tune_lr_min"]), float(settings["tune_lr_max"])),
            "beta": tune.uniform(float(settings["tune_beta_min"]), float(settings["tune_beta_max"])),
        },
        tune_config=tune.TuneConfig(
            metric=OBJECTIVE,
            mode="max",
            num_samples=samples,
            search_alg=BasicVariantGenerator(random_state=int(settings.get("seed", 42)), max_concurrent=concurrent or 0),
            scheduler=ASHAScheduler(time_attr="training_iteration", max_t=rungs, grace_period=1, reduction_factor=2),
        ),
        run_config=tune.RunConfig(
            name="dpo-asha",
            storage_path=str(Path(base["work_dir"]) / "tune"),
            verbose=0,
        ),
    )
    grid = tuner.fit()
    trials = []
    for i, result in enumerate(grid):
        cfg = result.config or {}
        metrics = result.metrics or {}
        trials.append(
            {
                "trial": i,
                "learning_rate": float(cfg.get("learning_rate", float("nan"))),
                "beta": float(cfg.get("beta", float("nan"))),
                OBJECTIVE: metrics.get(OBJECTIVE),
                "eval_loss": metrics.get("eval_loss"),
                "iterations": int(metrics.get("training_iteration", 0) or 0),
                "error": _last_line(result.error) if result.error else None,
            }
        )
    finished = [t for t in trials if t[OBJECTIVE] is not None and not t["error"]]
    if not finished:
        errors = "; ".join(t["error"] or "no result" for t in trials)
        raise RuntimeError(f"every Tune trial failed: {errors}")
    best = grid.get_best_result(metric=OBJECTIVE, mode="max", scope="last")
    chosen = {"learning_rate": float(best.config["learning_rate"]), "beta": float(best.config["beta"]), "trials": trials}
    stopped = sum(1 for t in finished if t["iterations"] < rungs)
    if emit:
        for t in finished:
            baton_job.emit_metrics({f"tune/{OBJECTIVE}": t[OBJECTIVE], "tune/learning_rate": t["learning_rate"],
                                    "tune/beta": t["beta"], "tune/iterations": t["iterations"]}, step=t["trial"])
        baton_job.emit_metrics(
            {
                "tune_trials": len(trials),
                "tune_trials_failed": len(trials) - len(finished),
                "tune_trials_stopped_early": stopped,
                "best_learning_rate": chosen["learning_rate"],
                "best_beta": chosen["beta"],
                f"best_{OBJECTIVE}": float(best.metrics[OBJECTIVE]),
            }
        )
    log(STAGE, f"ASHA: {len(finished)}/{len(trials)} trials, {stopped} stopped early; best lr={chosen['learning_rate']:.3g} beta={chosen['beta']:.3g}")
    return chosen


def _last_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    return (lines[-1] if lines else type(error).__name__)[:300]


# --------------------------------------------------------------------------- the stage


def train(model_dir: Path, preferences: Path, out_root: Path, params: dict[str, Any], *, emit: bool = True,
          model_md5: Optional[str] = None):
    settings = stage_settings(STAGE, params)
    model_dir, preferences, out_root = model_dir.resolve(), preferences.resolve(), out_root.resolve()
    records = read_records(preferences)
    for r in records:  # validate before spending any compute
        prompts.preference_example(r)
    train_records, eval_records = split_pairs(records, float(settings.get("eval_fraction", 0.2)))
    if not train_records:
        raise ValueError(f"no preference pairs in {preferences}")
    scratch = work_dir(out_root, STAGE)
    base = {"settings": settings, "model_ref": str(model_dir), "preferences": str(preferences), "work_dir": str(scratch)}
    manifest: dict[str, Any] = {"base_model": str(model_dir), "inputs": {"model": model_md5},
                                "pairs": {"train": len(train_records), "eval": len(eval_records)}}
    try:
        if int(settings.get("tune_samples", 0)) > 0 and eval_records:
            chosen = search(base, settings, emit=emit)
            settings = dict(settings, learning_rate=chosen["learning_rate"], beta=chosen["beta"])
            manifest["tune"] = chosen
        config = dict(base, settings=settings, eval_every=int(settings["max_steps"]) if int(settings["max_steps"]) > 0 else 0)
        before = measure(model_dir, settings, pairs=eval_records)
        outcome = run_training(TrainSpec(STAGE, "baton_jobs.rlhf:build_trainer", config, manifest), out_root / "model", emit=emit)
        change = before_after(before, measure(outcome.out_dir, settings, pairs=eval_records))
        outcome.summary.update(change)
        if emit:
            baton_job.emit_metrics(change, step=int(outcome.summary.get("train_steps", 0)))
        log(STAGE, f"held-out pairs preferred: {before.get('pref_accuracy', 0):.3f} -> {outcome.summary.get('pref_accuracy_after', 0):.3f}")
        return outcome
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def run(contract: baton_job.Contract):
    model = contract.input("model")
    outcome = train(
        resolve_path(model.uri, model.md5),
        data_path(contract, "preferences"),
        contract.output_root,
        contract.params,
        model_md5=model.md5,
    )
    baton_job.emit_output("model", outcome.out_dir)
    return outcome


def main() -> int:
    return stage_main(STAGE, run)


if __name__ == "__main__":
    raise SystemExit(main())
