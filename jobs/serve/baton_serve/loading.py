"""Loading a model version from its artifact URI, without Ray."""

from __future__ import annotations

import json
import os
import random
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

# A directory with this file is a trivial model (tests, demos): it answers with its version
# and may fail a share of its requests on purpose, e.g. {"error_rate": 1.0}.
TRIVIAL_MODEL_FILE = "baton-serve.json"
MAX_PROMPT_CHARS = 4096
MAX_NEW_TOKENS = 32
# Written by baton_jobs next to the weights; its settings.system_prompt is the system turn the
# model was trained with (none for the tiny profile).
MANIFEST_FILE = "baton_model.json"


class InjectedError(RuntimeError):
    """A request failed on purpose (the model's `error_rate`)."""


def local_path(uri: str) -> Path:
    """The directory of a `file://` URI or a plain path, or an `s3://` folder downloaded into
    a local cache; other schemes are refused."""
    parsed = urlparse(uri)
    if parsed.scheme in ("", "file"):
        return Path(unquote(parsed.path) if parsed.scheme else uri)
    if parsed.scheme == "s3":
        return download_s3_folder(parsed.netloc, parsed.path.strip("/"))
    raise ValueError(f"cannot load a model from {uri!r}: only file://, s3:// URIs and paths are served")


def download_s3_folder(bucket: str, prefix: str) -> Path:
    """Downloads the objects under `s3://bucket/prefix/` (a model folder) with boto3 and the
    standard AWS variables (an S3-compatible endpoint is addressed path-style) into
    BATON_MODEL_CACHE (default: the temp dir), once per folder; returns the local folder."""
    import boto3
    from botocore.config import Config

    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or None
    config = Config(s3={"addressing_style": "path"} if endpoint else {}, retries={"max_attempts": 5})
    client = boto3.client("s3", endpoint_url=endpoint, config=config)
    cache = Path(os.environ.get("BATON_MODEL_CACHE") or Path(tempfile.gettempdir()) / "baton-models")
    target = cache / bucket / prefix
    if (target.parent / (target.name + ".complete")).exists():
        return target
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/")
    keys = [item["Key"] for page in pages for item in page.get("Contents", []) if not item["Key"].endswith("/")]
    if not keys:
        raise FileNotFoundError(f"no model under s3://{bucket}/{prefix}/")
    for key in keys:
        destination = (target / key[len(prefix) + 1:]).resolve()
        if not destination.is_relative_to(target.resolve()):
            raise ValueError(f"s3://{bucket}/{key} leaves the model folder")
        destination.parent.mkdir(parents=True, exist_ok=True)
        client.download_file(bucket, key, str(destination))
    (target.parent / (target.name + ".complete")).touch()
    return target


@dataclass
class LoadedModel:
    """A model version ready to answer prompts."""

    version: int
    error_rate: float = 0.0
    model: object | None = None
    tokenizer: object | None = None
    system_prompt: str | None = None

    def generate(self, prompt: str) -> str:
        """The model's answer to a user prompt: rendered with its chat template (as it was
        trained), greedy, up to the end of the assistant turn."""
        if self.error_rate > 0 and random.random() < self.error_rate:
            raise InjectedError(f"version {self.version} failed on purpose (error_rate {self.error_rate})")
        prompt = prompt[:MAX_PROMPT_CHARS]
        if self.model is None:
            return f"v{self.version}: {prompt}"
        import torch

        if getattr(self.tokenizer, "chat_template", None):
            messages = [{"role": "system", "content": self.system_prompt}] if self.system_prompt else []
            messages.append({"role": "user", "content": prompt or " "})
            text = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
            inputs = self.tokenizer(text, return_tensors="pt", add_special_tokens=False)
        else:
            inputs = self.tokenizer(prompt or " ", return_tensors="pt")
        with torch.no_grad():
            out = self.model.generate(**inputs, max_new_tokens=MAX_NEW_TOKENS, do_sample=False)
        answer = self.tokenizer.decode(out[0][inputs["input_ids"].shape[1]:], skip_special_tokens=True)
        return answer.strip()


def load(uri: str, version: int) -> LoadedModel:
    """Loads the model at `uri`: a trivial model (`baton-serve.json`) or a Hugging Face
    causal LM directory (`config.json`, e.g. the tiny Llama that `baton_jobs` trains)."""
    path = local_path(uri)
    if not path.is_dir():
        raise FileNotFoundError(f"model directory {path} does not exist")
    trivial = path / TRIVIAL_MODEL_FILE
    if trivial.is_file():
        settings = json.loads(trivial.read_text())
        rate = float(settings.get("error_rate", 0.0))
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"{trivial}: error_rate must be within 0..1")
        return LoadedModel(version=version, error_rate=rate)
    if (path / "config.json").is_file():
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(path)
        model = AutoModelForCausalLM.from_pretrained(path)
        model.eval()
        manifest = json.loads((path / MANIFEST_FILE).read_text()) if (path / MANIFEST_FILE).is_file() else {}
        system = (manifest.get("settings") or {}).get("system_prompt")
        return LoadedModel(version=version, model=model, tokenizer=tokenizer, system_prompt=system)
    raise ValueError(f"{path} has neither {TRIVIAL_MODEL_FILE} nor config.json: not a servable model")
