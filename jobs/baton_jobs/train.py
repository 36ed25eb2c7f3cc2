"""Training runtime shared by cpt, sft and rlhf.

- models: the tiny profile's Llama built from a config with a BPE tokenizer trained on the
  corpus; the full profile's 4-bit base model (bitsandbytes) with LoRA (PEFT), or Unsloth's
  ``FastLanguageModel`` when Unsloth is importable and a GPU is present;
- one way to run a TRL trainer, in the driver process or on Ray Train workers
  (``TorchTrainer``; DDP over gloo on CPUs, NCCL on GPUs), chosen by ``use_ray_train``
  (``auto``: Ray Train when ``num_workers`` > 1);
- loss curves: every logged step becomes a ``::baton::metric`` record;
- saving: LoRA adapters are saved under ``adapter/`` and merged into the weights, so every
  stage's output is a standalone model folder the next stage loads with ``from_pretrained``.

A stage describes its trainer with a *builder*, ``"module:function"``, called as
``builder(config, callbacks) -> trainer`` in whichever process trains; ``config`` is a
JSON-able dict, so it travels to Ray workers unchanged.
"""

from __future__ import annotations

import importlib
import json
import math
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import baton_job

from . import prompts
from .data import write_json
from .runtime import cuda_available, log, unsloth_available

MANIFEST = "baton_model.json"
SKIP_LOG_KEYS = {"epoch", "total_flos", "train_samples_per_second", "train_steps_per_second", "step"}


# --------------------------------------------------------------------------- tokenizer & tiny model


# Each Hangul syllable and each digit is a piece of its own, so a token is at most one of
# them: 347 is 3 4 7 and 삼백사십칠 five syllables, which lets a small model learn how numbers
# and particles are built instead of memorising merged chunks.
SYLLABLE_OR_DIGIT = r"[\uac00-\ud7a3]|[0-9]"


def train_tokenizer(texts: list[str], vocab_size: int = 2048):
    """A byte-level BPE tokenizer trained on `texts` (no unknown tokens: every byte is in
    the base alphabet; Hangul syllables and digits are never merged with their neighbours),
    with ChatML special tokens and chat template."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(SYLLABLE_OR_DIGIT), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=list(prompts.SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    # Chat markup is part of what the model must learn; train on it too.
    tok.train_from_iterator(list(texts), trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=None,
        eos_token=prompts.END_OF_TEXT,
        pad_token=prompts.PAD,
        unk_token=None,
        model_max_length=4096,
    )
    fast.chat_template = prompts.CHAT_TEMPLATE
    fast.padding_side = "right"
    return fast


def build_tiny_model(tokenizer, settings: dict[str, Any]):
    """A Llama with the profile's (small) dimensions, randomly initialised from a config."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(int(settings.get("seed", 42)))
    vocab = int(math.ceil(len(tokenizer) / 64) * 64)
    cfg = LlamaConfig(
        vocab_size=vocab,
        bos_token_id=tokenizer.convert_tokens_to_ids(prompts.END_OF_TEXT),
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        **settings["model"],
    )
    model = LlamaForCausalLM(cfg)
    model.generation_config.eos_token_id = stop_token_ids(tokenizer)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model


def stop_token_ids(tokenizer) -> list[int]:
    ids = []
    for token in (prompts.IM_END, prompts.END_OF_TEXT, tokenizer.eos_token):
        if token is None:
            continue
        tid = tokenizer.convert_tokens_to_ids(token)
        if isinstance(tid, int) and tid >= 0 and tid != tokenizer.unk_token_id and tid not in ids:
            ids.append(tid)
    return ids


def count_parameters(model) -> tuple[int, int]:
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return total, trainable


# --------------------------------------------------------------------------- loading


def load_tokenizer(ref: str):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(ref)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if not getattr(tokenizer, "chat_template", None):
        tokenizer.chat_template = prompts.CHAT_TEMPLATE
    return tokenizer


def _bnb_config():
    import torch
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=torch.bfloat16,
    )


def load_model(ref: str, settings: dict[str, Any], *, quantize: Optional[bool] = None):
    """A causal LM from a folder or a hub name: 4-bit on GPUs when the profile says so."""
    import torch
    from transformers import AutoModelForCausalLM

    quantize = settings.get("load_in_4bit", False) if quantize is None else quantize
    kwargs: dict[str, Any] = {"attn_implementation": attention_implementation()}
    if quantize and cuda_available():
        kwargs["quantization_config"] = _bnb_config()
        kwargs["dtype"] = torch.bfloat16
        kwargs["device_map"] = {"": current_device()}
    elif settings.get("bf16") and cuda_available():
        kwargs["dtype"] = torch.bfloat16
    else:
        kwargs["dtype"] = torch.float32
    return AutoModelForCausalLM.from_pretrained(ref, **kwargs)


def attention_implementation() -> str:
    """FlashAttention 2 on a GPU where the flash-attn package is installed, else PyTorch's SDPA."""
    import importlib.util

    if cuda_available() and importlib.util.find_spec("flash_attn") is not None:
        return "flash_attention_2"
    return "sdpa"


def current_device() -> str:
    """This process's GPU: Ray Train sets ACCELERATE_TORCH_DEVICE per worker (its index is
    relative to CUDA_VISIBLE_DEVICES, not LOCAL_RANK); torchrun sets LOCAL_RANK."""
    device = os.environ.get("ACCELERATE_TORCH_DEVICE")
    if device and device.startswith("cuda"):
        return device
    return f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}"


def maybe_import_unsloth(settings: dict[str, Any], world_size: int = 1) -> None:
    """Unsloth patches transformers/TRL when it is imported, so it must come first."""
    if not settings.get("full_finetune") and use_unsloth(settings, world_size):
        import unsloth  # noqa: F401


def lora_config(settings: dict[str, Any], *, train_embeddings: bool = False):
    from peft import LoraConfig

    rank = int(settings.get("lora_rank", 16))
    return LoraConfig(
        r=rank,
        lora_alpha=int(round(rank * float(settings.get("lora_alpha_ratio", 2.0)))),
        lora_dropout=float(settings.get("lora_dropout", 0.0)),
        target_modules=list(settings.get("lora_targets", [])) or "all-linear",
        modules_to_save=["embed_tokens", "lm_head"] if train_embeddings else None,
        bias="none",
        task_type="CAUSAL_LM",
    )


@dataclass
class Prepared:
    model: Any
    tokenizer: Any
    peft_config: Any  # a LoraConfig for TRL to apply, or None (full fine-tune / Unsloth)
    backend: str      # "transformers" | "unsloth"


def use_unsloth(settings: dict[str, Any], world_size: int = 1) -> bool:
    wanted = settings.get("use_unsloth", "auto")
    if wanted in (False, "false", "0", 0):
        return False
    # Unsloth (open-source) trains on one GPU; several workers use transformers + PEFT.
    return world_size == 1 and unsloth_available()


def prepare_model(ref: str, settings: dict[str, Any], *, world_size: int = 1) -> Prepared:
    """Model + tokenizer + LoRA for a training stage."""
    full_finetune = bool(settings.get("full_finetune", False))
    if not full_finetune and use_unsloth(settings, world_size):
        from unsloth import FastLanguageModel  # noqa: F401  (imported before transformers use)

        model, tokenizer = FastLanguageModel.from_pretrained(
            model_name=ref,
            max_seq_length=int(settings["max_length"]),
            load_in_4bit=bool(settings.get("load_in_4bit", True)),
            dtype=None,
        )
        rank = int(settings.get("lora_rank", 64))
        targets = list(settings.get("lora_targets", []))
        if settings.get("train_embeddings"):
            targets += ["embed_tokens", "lm_head"]
        model = FastLanguageModel.get_peft_model(
            model,
            r=rank,
            lora_alpha=int(round(rank * float(settings.get("lora_alpha_ratio", 1.0)))),
            lora_dropout=float(settings.get("lora_dropout", 0.0)),
            target_modules=targets,
            use_gradient_checkpointing="unsloth" if settings.get("gradient_checkpointing") else False,
            random_state=int(settings.get("seed", 42)),
        )
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        if not getattr(tokenizer, "chat_template", None):
            tokenizer.chat_template = prompts.CHAT_TEMPLATE
        return Prepared(model, tokenizer, None, "unsloth")

    tokenizer = load_tokenizer(ref)
    model = load_model(ref, settings)
    if getattr(model, "is_loaded_in_4bit", False):
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(
            model, use_gradient_checkpointing=bool(settings.get("gradient_checkpointing", True))
        )
    peft_cfg = None if full_finetune else lora_config(settings, train_embeddings=bool(settings.get("train_embeddings")))
    return Prepared(model, tokenizer, peft_cfg, "transformers")


# --------------------------------------------------------------------------- trainer arguments


def training_args(settings: dict[str, Any], output_dir: str, **extra: Any) -> dict[str, Any]:
    """Keyword arguments shared by SFTConfig and DPOConfig."""
    gpu = cuda_available()
    max_steps = int(settings.get("max_steps", -1))
    args: dict[str, Any] = dict(
        output_dir=output_dir,
        max_steps=max_steps,
        num_train_epochs=float(settings.get("epochs", 1)),
        per_device_train_batch_size=int(settings.get("batch_size", 8)),
        per_device_eval_batch_size=int(settings.get("batch_size", 8)),
        gradient_accumulation_steps=int(settings.get("grad_accum", 1)),
        learning_rate=float(settings["learning_rate"]),
        lr_scheduler_type=str(settings.get("lr_scheduler", "cosine")),
        warmup_steps=int(settings.get("warmup_steps", 0)),
        weight_decay=float(settings.get("weight_decay", 0.0)),
        max_grad_norm=float(settings.get("max_grad_norm", 1.0)),
        logging_steps=int(settings.get("logging_steps", 1)),
        logging_first_step=True,
        save_strategy="no",
        report_to="none",
        seed=int(settings.get("seed", 42)),
        data_seed=int(settings.get("seed", 42)),
        bf16=bool(settings.get("bf16", False)) and gpu,
        activation_checkpointing=bool(settings.get("gradient_checkpointing", False)) and gpu,
        use_cpu=not gpu,
        dataloader_num_workers=int(settings.get("dataloader_workers", 0)),
        disable_tqdm=True,
        optim="paged_adamw_8bit" if (gpu and settings.get("load_in_4bit")) else "adamw_torch",
        ddp_find_unused_parameters=False,
    )
    args.update(extra)
    return args


# --------------------------------------------------------------------------- metrics


def _numeric_logs(logs: dict[str, Any]) -> dict[str, float]:
    out = {}
    for key, value in logs.items():
        if key in SKIP_LOG_KEYS or isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        if math.isfinite(float(value)):
            out[key] = float(value)
    return out


def make_recorder(emit: bool = True, prefix: str = ""):
    """A TrainerCallback that keeps every log (the loss curve) and, in the driver, prints
    each as ::baton::metric records with the optimizer step."""
    from transformers import TrainerCallback

    class MetricsRecorder(TrainerCallback):
        def __init__(self) -> None:
            self.history: list[dict[str, float]] = []

        def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: ARG002
            if not logs or not state.is_world_process_zero:
                return
            values = _numeric_logs(logs)
            if not values:
                return
            entry = {"step": int(state.global_step), **values}
            self.history.append(entry)
            if emit:
                baton_job.emit_metrics({prefix + k: v for k, v in values.items()}, step=int(state.global_step))

        @property
        def losses(self) -> list[float]:
            return [h["loss"] for h in self.history if "loss" in h]

    return MetricsRecorder()


def losses_of(history: list[dict[str, float]]) -> list[tuple[int, float]]:
    return [(int(h["step"]), float(h["loss"])) for h in history if "loss" in h]


# --------------------------------------------------------------------------- saving


def save_model(model, tokenizer, out_dir: Path, settings: dict[str, Any], manifest: dict[str, Any], base_ref: str) -> None:
    """Save a standalone model folder: merged weights (+ adapter/), tokenizer, manifest."""
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        from peft import PeftModel
    except ImportError:  # pragma: no cover
        PeftModel = ()  # type: ignore[assignment]

    if hasattr(model, "save_pretrained_merged") and manifest.get("backend") == "unsloth":
        model.save_pretrained(str(out_dir / "adapter"))
        model.save_pretrained_merged(str(out_dir), tokenizer, save_method="merged_16bit")
    elif isinstance(model, PeftModel):
        adapter_dir = out_dir / "adapter"
        model.save_pretrained(str(adapter_dir))
        if settings.get("merge", True):
            if getattr(model, "is_loaded_in_4bit", False) or getattr(model.base_model, "is_loaded_in_4bit", False):
                # A 4-bit base cannot hold merged weights: reload it in 16 bit and merge there.
                import torch
                from peft import PeftModel as _Peft
                from transformers import AutoModelForCausalLM

                base = AutoModelForCausalLM.from_pretrained(base_ref, dtype=torch.bfloat16, device_map={"": "cpu"})
                merged = _Peft.from_pretrained(base, str(adapter_dir)).merge_and_unload()
            else:
                merged = model.merge_and_unload()
            merged.save_pretrained(str(out_dir))
    else:
        model.save_pretrained(str(out_dir))
    tokenizer.save_pretrained(str(out_dir))
    write_json(out_dir / MANIFEST, manifest)


# --------------------------------------------------------------------------- running


@dataclass
class TrainSpec:
    stage: str
    builder: str                 # "module:function" -> builder(config, callbacks) -> trainer
    config: dict[str, Any]       # JSON-able; must hold "settings", "model_ref" (base for merging)
    manifest: dict[str, Any] = field(default_factory=dict)


@dataclass
class TrainOutcome:
    history: list[dict[str, float]]
    summary: dict[str, float]
    out_dir: Path
    mode: str                    # "direct" | "ray_train"


def _builder(path: str) -> Callable:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def wants_ray_train(settings: dict[str, Any]) -> bool:
    value = settings.get("use_ray_train", "auto")
    if isinstance(value, str):
        value = value.lower()
        if value == "auto":
            # The driver holds the entrypoint's resources (its GPU, if any): one worker
            # trains in the driver; more than one are Ray Train workers.
            return int(resolve_num_workers(settings)) > 1
        return value in ("true", "1", "yes")
    return bool(value)


def resolve_num_workers(settings: dict[str, Any]) -> int:
    value = settings.get("num_workers", 1)
    if value in ("auto", None):
        from .runtime import cluster_gpus

        return max(1, cluster_gpus())
    return max(1, int(value))


def _backend(settings: dict[str, Any], world_size: int) -> str:
    return "unsloth" if not settings.get("full_finetune") and use_unsloth(settings, world_size) else "transformers"


def _manifest(spec: TrainSpec, trainer, summary: dict[str, Any], backend: str) -> dict[str, Any]:
    manifest = dict(spec.manifest)
    manifest.update(
        {
            "stage": spec.stage,
            "profile": spec.config["settings"].get("profile"),
            "backend": backend,
            "settings": {k: v for k, v in spec.config["settings"].items() if k not in ("model",)},
            "architecture": type(trainer.model).__name__,
            "summary": {k: summary[k] for k in ("train_steps", "total_params", "trainable_params") if k in summary},
        }
    )
    return manifest


def _ray_train_loop(config: dict[str, Any]) -> None:
    """Runs on every Ray Train worker; rank 0 saves the model into the checkpoint."""
    import ray.train
    from ray.train import Checkpoint
    from ray.train.huggingface.transformers import prepare_trainer

    from .runtime import quiet_libraries

    quiet_libraries()
    spec = TrainSpec(**config["spec"])
    ctx = ray.train.get_context()
    rank, world = ctx.get_world_rank(), ctx.get_world_size()
    maybe_import_unsloth(spec.config["settings"], world)
    recorder = make_recorder(emit=False)
    original = _builder(spec.builder)

    def builder(cfg, callbacks):
        return prepare_trainer(original(cfg, callbacks))

    # Ray Train has set up torch.distributed (gloo/NCCL); the HF trainer picks it up.
    trainer, summary = _train_once_with(builder, spec, [recorder], world)
    metrics = {"history": recorder.history, "summary": summary, "world_size": world}
    if rank == 0:
        with tempfile.TemporaryDirectory() as tmp:
            backend = _backend(spec.config["settings"], world)
            save_model(
                trainer.model,
                trainer.processing_class,
                Path(tmp),
                spec.config["settings"],
                _manifest(spec, trainer, summary, backend),
                spec.config["model_ref"],
            )
            ray.train.report(metrics, checkpoint=Checkpoint.from_directory(tmp))
    else:
        ray.train.report(metrics)


def _train_once_with(builder: Callable, spec: TrainSpec, callbacks: list, world_size: int):
    from transformers.trainer_callback import PrinterCallback

    from .runtime import set_torch_threads

    set_torch_threads(spec.config["settings"])
    config = dict(spec.config)
    config["world_size"] = world_size
    trainer = builder(config, callbacks)
    trainer.remove_callback(PrinterCallback)  # the ::baton::metric records are the log
    started = time.monotonic()
    result = trainer.train()
    runtime = time.monotonic() - started
    total, trainable = count_parameters(trainer.model)
    summary = {
        "train_runtime_s": round(runtime, 3),
        "train_steps": int(trainer.state.global_step),
        "total_params": int(total),
        "trainable_params": int(trainable),
    }
    if result is not None and getattr(result, "training_loss", None) is not None and math.isfinite(result.training_loss):
        summary["train_loss_mean"] = float(result.training_loss)
    return trainer, summary


def run_training(spec: TrainSpec, out_dir: Path, *, emit: bool = True) -> TrainOutcome:
    """Train as the settings say (in this process or on Ray Train workers), save the model
    into out_dir, and report the loss curve and a summary as ::baton::metric records."""
    settings = spec.config["settings"]
    if wants_ray_train(settings):
        outcome = _run_ray_train(spec, out_dir)
        if emit:
            for entry in outcome.history:
                step = int(entry["step"])
                baton_job.emit_metrics({k: v for k, v in entry.items() if k != "step"}, step=step)
    else:
        maybe_import_unsloth(settings)
        recorder = make_recorder(emit=emit)
        trainer, summary = _train_once_with(_builder(spec.builder), spec, [recorder], 1)
        backend = _backend(settings, 1)
        save_model(trainer.model, trainer.processing_class, out_dir, settings,
                   _manifest(spec, trainer, summary, backend), spec.config["model_ref"])
        outcome = TrainOutcome(recorder.history, summary, out_dir, "direct")
    losses = losses_of(outcome.history)
    if losses:
        outcome.summary["initial_loss"] = losses[0][1]
        outcome.summary["final_loss"] = losses[-1][1]
    if emit:
        final_step = int(outcome.summary.get("train_steps", 0))
        baton_job.emit_metrics(outcome.summary, step=final_step)
    return outcome


def _run_ray_train(spec: TrainSpec, out_dir: Path) -> TrainOutcome:
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    from .runtime import ensure_ray

    # Ray Train's print patch defeats libraries that capture stdout (dill disassembles
    # functions into a captured stdout while datasets fingerprints them): leave print alone.
    os.environ.setdefault("RAY_TRAIN_ENABLE_PRINT_PATCH", "0")
    ray = ensure_ray()
    settings = spec.config["settings"]
    workers = resolve_num_workers(settings)
    gpus = int(ray.cluster_resources().get("GPU", 0))
    use_gpu = gpus > 0 and settings.get("profile") != "tiny" or bool(settings.get("ray_train_use_gpu", False))
    per_worker = {"CPU": float(settings.get("cpus_per_worker", 1))}
    from .runtime import warn_if_no_free_cpu

    warn_if_no_free_cpu(spec.stage, per_worker["CPU"] * workers)
    if use_gpu:
        free = int(ray.available_resources().get("GPU", 0))
        if free < workers:
            raise RuntimeError(
                f"Ray Train needs {workers} free GPU(s) but the cluster has {free} available; when a stage "
                "trains on Ray Train workers, submit its entrypoint without GPUs (resources: {gpus: 0})"
            )
    storage = Path(settings.get("ray_storage_path") or (out_dir.parent / ".ray_train")).resolve()
    storage.mkdir(parents=True, exist_ok=True)
    config = {"spec": {"stage": spec.stage, "builder": spec.builder, "config": spec.config, "manifest": spec.manifest}}
    trainer = TorchTrainer(
        _ray_train_loop,
        train_loop_config=config,
        scaling_config=ScalingConfig(num_workers=workers, use_gpu=use_gpu, resources_per_worker=per_worker),
        run_config=RunConfig(name=f"{spec.stage}-{int(time.time())}", storage_path=str(storage)),
    )
    log(spec.stage, f"Ray Train: {workers} worker(s), {'GPU' if use_gpu else 'CPU'}")
    result = trainer.fit()
    if result.error:
        raise result.error
    if result.checkpoint is None:
        raise RuntimeError("Ray Train finished without a checkpoint from rank 0")
    out_dir.mkdir(parents=True, exist_ok=True)
    with result.checkpoint.as_directory() as ckpt:
        for item in Path(ckpt).iterdir():
            target = out_dir / item.name
            if item.is_dir():
                shutil.copytree(item, target, dirs_exist_ok=True)
            else:
                shutil.copy2(item, target)
    shutil.rmtree(storage, ignore_errors=True)
    metrics = result.metrics or {}
    return TrainOutcome(list(metrics.get("history", [])), dict(metrics.get("summary", {})), out_dir, "ray_train")


def work_dir(out_root: Path, stage: str) -> Path:
    """Scratch space next to the outputs (shared with Ray workers when the output is)."""
    path = out_root / f".work-{stage}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def model_manifest(path: Path) -> dict[str, Any]:
    try:
        return json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
