"""The weighted router of one model (`baton_serve.router:build`).

Its `user_config` names the stable and candidate applications and the candidate's weight
(0-100); Baton changes the weight by redeploying the config, which reconfigures the replica
in place. Every request is counted by version and outcome (`baton_serve_requests`) and timed
(`baton_serve_latency_ms`), so Prometheus can compute each version's success rate and latency.
A request that carries the answer it expects (`{"prompt": ..., "expected": ...}`: a labelled
probe) is also scored (`baton_serve_probes`, outcome `correct` or `wrong`), so an analysis can
read each version's share of correct answers on live traffic.
"""

from __future__ import annotations

import random
import time

from ray import serve
from ray.serve import metrics
from starlette.requests import Request
from starlette.responses import JSONResponse

from baton_serve.routing import RouterConfig, probe_outcome

LATENCY_BOUNDARIES_MS = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000]


@serve.deployment(ray_actor_options={"num_cpus": 0})
class WeightedRouter:
    def __init__(self):
        self.config: RouterConfig | None = None
        self.handles: dict[str, object] = {}
        self.requests = metrics.Counter(
            "baton_serve_requests",
            description="Requests routed to a model version, by outcome (ok or error).",
            tag_keys=("model", "version", "role", "outcome"),
        )
        self.latency = metrics.Histogram(
            "baton_serve_latency_ms",
            description="Latency of the requests routed to a model version, in milliseconds.",
            boundaries=LATENCY_BOUNDARIES_MS,
            tag_keys=("model", "version", "role"),
        )
        self.probes = metrics.Counter(
            "baton_serve_probes",
            description="Labelled probe requests answered by a model version, by outcome (correct or wrong).",
            tag_keys=("model", "version", "role", "outcome"),
        )

    def reconfigure(self, user_config: dict) -> None:
        self.config = RouterConfig.parse(user_config)
        self.handles = {t.app: serve.get_app_handle(t.app) for t in self.config.targets()}

    async def __call__(self, request: Request):
        if self.config is None:
            return JSONResponse({"error": "router not configured"}, status_code=503)
        body = await request.json() if await request.body() else {}
        target, role = self.config.pick(random.random())
        tags = {"model": self.config.model, "version": str(target.version), "role": role}
        start = time.perf_counter()
        try:
            answer = await self.handles[target.app].generate.remote(str(body.get("prompt", "")))
        except Exception as error:  # noqa: BLE001 - any failure of the version is an error response
            self.requests.inc(tags={**tags, "outcome": "error"})
            self.latency.observe((time.perf_counter() - start) * 1000, tags=tags)
            return JSONResponse({"error": str(error)[:500], "version": target.version}, status_code=500)
        self.requests.inc(tags={**tags, "outcome": "ok"})
        self.latency.observe((time.perf_counter() - start) * 1000, tags=tags)
        outcome = probe_outcome(str(answer.get("output", "")), body.get("expected"))
        if outcome is not None:
            self.probes.inc(tags={**tags, "outcome": outcome})
        return answer


def build(args: dict) -> serve.Application:
    """Application builder; the routing itself comes from the deployment's `user_config`."""
    return WeightedRouter.bind()
