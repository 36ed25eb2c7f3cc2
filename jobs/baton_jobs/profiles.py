"""The two profiles (``tiny`` and ``full``) and how params override them.

Pure Python, no heavy imports.

How a stage's settings are chosen, later wins:

1. ``PROFILES[profile]["common"]`` then ``PROFILES[profile][stage]``;
2. the run's generic params (``learning_rate``, ``lora_rank``, ``base_model``, ``max_steps``,
   ``num_workers``, ...). In the ``tiny`` profile the three params the reference pipeline
   gives defaults for a 7B model (``learning_rate``, ``lora_rank``, ``base_model``) are
   ignored: a 1M-parameter model trained for a few dozen steps needs its own values;
3. stage-scoped params ``<stage>_<setting>`` (``cpt_max_steps``, ``sft_learning_rate``,
   ``rlhf_beta``, ``evaluate_max_new_tokens``, ...), which apply in every profile;
4. ``train_scale`` (a number, default 1) multiplies the resulting ``max_steps`` of a
   training stage: the reference pipeline's knob for an under-trained (``0.1``) or a
   longer-trained (``2``) model.

The full profile's base model is a folder on local disk (``base_model_path``): the param
``base_model``, else ``$BATON_BASE_MODEL``. Nothing is downloaded at run time.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any, Mapping

from .prompts import DEFAULT_SYSTEM

LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]

PROFILES: dict[str, dict[str, dict[str, Any]]] = {
    "tiny": {
        # A ~1M-parameter Llama initialised from a config; the tokenizer is a byte-level BPE
        # trained by the cpt stage on the preprocessed corpus and the task's chats. CPU, about
        # a minute per stage. No system prompt: the task's prompts are short and every token
        # costs CPU time.
        "common": {
            "seed": 42,
            "system_prompt": None,
            "answer_tokens": 12,
            "max_length": 128,
            "model": {
                "hidden_size": 128,
                "intermediate_size": 352,
                "num_hidden_layers": 4,
                "num_attention_heads": 4,
                "num_key_value_heads": 2,
                "max_position_embeddings": 512,
                "rope_theta": 10000.0,
                "tie_word_embeddings": True,
            },
            "vocab_size": 2048,
            "load_in_4bit": False,
            "bf16": False,
            "gradient_checkpointing": False,
            "lora_alpha_ratio": 2.0,
            "lora_dropout": 0.0,
            "lora_targets": LORA_TARGETS,
            "num_workers": 1,
            "use_ray_train": "auto",
            "logging_steps": 5,
            "grad_accum": 1,
            "warmup_steps": 2,
            "lr_scheduler": "cosine",
            "dataloader_workers": 0,
            "torch_threads": 1,
        },
        "cpt": {
            # Random init: there is nothing to adapt, so tiny cpt trains every weight.
            "full_finetune": True,
            "max_steps": 60,
            "learning_rate": 3e-3,
            "batch_size": 8,
            "packing": True,
        },
        # The task is new to a from-scratch model: tiny sft trains every weight (LoRA on a
        # 128-wide model learns it several times slower). A quarter of the examples replay cpt's
        # text, cut into pieces of at most 24 characters (as long as the task's chats, so a batch
        # is not padded to a whole document: 1.55x faster per step): without the replay held-out
        # perplexity went to ~10^5-10^6. Strong weight decay (3.0) is what makes the model
        # generalise early (measured, jobs/README.md): at 0.1 it took 2000 steps to reach 0.97
        # unseen exact match at seed 42 (and held-out perplexity rose ~40x); at 3.0, 600 steps
        # reach 0.99-1.0 at seeds 42, 1 and 2 with the perplexity unchanged.
        "sft": {"full_finetune": True, "max_steps": 600, "learning_rate": 5e-3, "batch_size": 32, "warmup_steps": 100,
                "weight_decay": 3.0, "text_share": 0.25, "text_max_chars": 24},
        # DPO with the chosen answer's NLL (sft_weight, RPO): plain DPO at 2e-3 widened the
        # held-out margin while unseen exact match fell 0.815 -> 0.723 (answers outside the options).
        # On a 0.992 sft model (jobs/README.md), 60 steps at lr 1.2e-4 cost 3 of 130 unseen answers
        # with sft_weight 1, 2 with sft_weight 3, 1 at lr 4e-5: hence the low range and weight 2.
        "rlhf": {
            "full_finetune": False,
            "lora_rank": 16,
            "max_steps": 60,
            "learning_rate": 1e-4,
            "beta": 0.1,
            "sft_weight": 2.0,
            "batch_size": 16,
            "eval_fraction": 0.2,
            # Ray Tune (ASHA) over learning rate and beta
            "tune_samples": 3,
            "tune_steps": 12,
            "tune_eval_every": 3,
            "tune_lr_min": 3e-5,
            "tune_lr_max": 2e-4,
            "tune_beta_min": 0.05,
            "tune_beta_max": 0.5,
            "tune_max_concurrent": 2,
            "tune_cpus_per_trial": 1,
            "tune_gpus_per_trial": 0,
        },
        "evaluate": {"max_new_tokens": 12, "batch_size": 32, "latency_samples": 20, "load_in_4bit": False},
    },
    "full": {
        # A 4-bit base model (Qwen2.5-7B, say) with LoRA r=64 on GPUs (QLoRA). Unsloth when installed and a
        # GPU is present and the stage runs on one worker; transformers + PEFT otherwise.
        "common": {
            "seed": 42,
            "system_prompt": DEFAULT_SYSTEM,
            "answer_tokens": 24,
            "base_model": None,  # a local folder: the param base_model, else $BATON_BASE_MODEL
            "max_length": 2048,
            "load_in_4bit": True,
            "bf16": True,
            "gradient_checkpointing": True,
            "lora_rank": 64,
            "lora_alpha_ratio": 1.0,
            "lora_dropout": 0.05,
            "lora_targets": LORA_TARGETS,
            "num_workers": 1,
            "use_ray_train": "auto",
            "logging_steps": 10,
            "grad_accum": 8,
            "warmup_steps": 50,
            "lr_scheduler": "cosine",
            "dataloader_workers": 2,
            "torch_threads": 0,  # torch's default
            "merge": True,
        },
        "cpt": {
            "full_finetune": False,
            # Continued pre-training often also trains the embeddings and LM head
            # (Unsloth's recipe); costs ~1B extra trainable parameters on Qwen2.5-7B.
            "train_embeddings": False,
            "max_steps": -1,
            "epochs": 1,
            "learning_rate": 2e-4,
            "batch_size": 4,
            "packing": True,
        },
        "sft": {"full_finetune": False, "max_steps": -1, "epochs": 2, "learning_rate": 2e-4, "batch_size": 4, "grad_accum": 4},
        "rlhf": {
            "full_finetune": False,
            "max_steps": -1,
            "epochs": 1,
            "learning_rate": 5e-6,
            "beta": 0.1,
            "sft_weight": 0.0,  # plain DPO; RPO's NLL term (1.0) when answers drift off the task
            "batch_size": 2,
            "grad_accum": 8,
            "max_length": 1536,
            "eval_fraction": 0.05,
            "tune_samples": 8,
            "tune_steps": 200,
            "tune_eval_every": 50,
            "tune_lr_min": 1e-6,
            "tune_lr_max": 5e-5,
            "tune_beta_min": 0.05,
            "tune_beta_max": 0.5,
            "tune_max_concurrent": 0,  # 0: as many as the GPUs allow
            "tune_cpus_per_trial": 4,
            "tune_gpus_per_trial": 1,
        },
        "evaluate": {"max_new_tokens": 64, "batch_size": 8, "latency_samples": 50, "load_in_4bit": True},
    },
}

# Params that configure the full profile only (the reference pipeline has 7B defaults for them).
FULL_ONLY_PARAMS = {"learning_rate", "lora_rank", "base_model"}
GENERIC_PARAMS = {
    "learning_rate",
    "lora_rank",
    "base_model",
    "max_steps",
    "num_workers",
    "use_ray_train",
    "seed",
    "max_length",
    "batch_size",
    "epochs",
    "use_unsloth",
}


def profile_name(params: Mapping[str, Any]) -> str:
    name = str(params.get("profile", "tiny"))
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}: use one of {', '.join(sorted(PROFILES))}")
    return name


def stage_settings(stage: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """The settings of `stage` for the run's params (see the module docstring)."""
    name = profile_name(params)
    profile = PROFILES[name]
    if stage not in profile:
        raise ValueError(f"profile {name!r} has no settings for stage {stage!r}")
    settings = copy.deepcopy(profile["common"])
    settings.update(copy.deepcopy(profile[stage]))
    for key in GENERIC_PARAMS:
        if key in params and params[key] is not None:
            if name == "tiny" and key in FULL_ONLY_PARAMS:
                continue
            settings[key] = params[key]
    prefix = f"{stage}_"
    for key, value in params.items():
        if key.startswith(prefix) and value is not None:
            settings[key[len(prefix):]] = value
    scale = float(1 if params.get("train_scale") is None else params["train_scale"])
    if scale <= 0:
        raise ValueError(f"train_scale must be > 0, not {scale}")
    if int(settings.get("max_steps", -1)) > 0:
        settings["max_steps"] = max(1, int(round(int(settings["max_steps"]) * scale)))
    settings["profile"] = name
    settings["stage"] = stage
    return settings


def base_model_path(settings: Mapping[str, Any]) -> str:
    """The full profile's base model: a local model folder, from the setting ``base_model`` (the
    run's param) or else ``$BATON_BASE_MODEL``. Never a hub name: nothing is downloaded at run time."""
    value = settings.get("base_model") or os.environ.get("BATON_BASE_MODEL")
    if not value:
        raise ValueError("the full profile needs a base model on local disk: set the param base_model or "
                         "BATON_BASE_MODEL to a model folder (e.g. one made by `hf download Qwen/Qwen2.5-7B "
                         "--local-dir /models/Qwen2.5-7B` beforehand); nothing is downloaded at run time")
    path = Path(str(value)).expanduser()
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"base model {str(value)!r} is not a local model folder (no config.json there); "
                                "set the param base_model or BATON_BASE_MODEL to one: nothing is downloaded at run time")
    return str(path.resolve())
