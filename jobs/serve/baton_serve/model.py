"""The Serve application of one registered model version (`baton_serve.model:build`)."""

from __future__ import annotations

from ray import serve
from starlette.requests import Request

from baton_serve.loading import load


@serve.deployment(ray_actor_options={"num_cpus": 0})
class ModelVersion:
    """Answers prompts with one model version; the router calls `generate` through a handle."""

    def __init__(self, uri: str, version: int):
        self.version = version
        self.loaded = load(uri, version)

    def generate(self, prompt: str) -> dict:
        return {"version": self.version, "output": self.loaded.generate(prompt)}

    async def __call__(self, request: Request) -> dict:
        body = await request.json() if await request.body() else {}
        return self.generate(str(body.get("prompt", "")))


def build(args: dict) -> serve.Application:
    """Application builder: `args` = {uri, version} from the Serve config."""
    return ModelVersion.bind(str(args["uri"]), int(args["version"]))
