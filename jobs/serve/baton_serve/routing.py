"""The router's settings and its choice of version, without Ray (tested directly)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    app: str
    version: int

    @staticmethod
    def parse(value: object, field: str) -> "Target":
        if not isinstance(value, dict) or not isinstance(value.get("app"), str) or not value["app"]:
            raise ValueError(f"{field} must be {{app, version}}")
        return Target(app=value["app"], version=int(value["version"]))


@dataclass(frozen=True)
class RouterConfig:
    """`{model, stable: {app, version} | null, candidate: {app, version} | null, weight}`."""

    model: str
    stable: Target | None
    candidate: Target | None
    weight: int

    @staticmethod
    def parse(config: dict) -> "RouterConfig":
        weight = int(config.get("weight", 0))
        if not 0 <= weight <= 100:
            raise ValueError("weight must be within 0..100")
        stable = Target.parse(config["stable"], "stable") if config.get("stable") else None
        candidate = Target.parse(config["candidate"], "candidate") if config.get("candidate") else None
        if stable is None and candidate is None:
            raise ValueError("the router needs a stable or a candidate version")
        if stable is None and weight < 100:
            raise ValueError("without a stable version the candidate must take weight 100")
        if candidate is None and weight > 0:
            raise ValueError("weight must be 0 without a candidate")
        return RouterConfig(model=str(config["model"]), stable=stable, candidate=candidate, weight=weight)

    def targets(self) -> list[Target]:
        return [t for t in (self.stable, self.candidate) if t is not None]

    def pick(self, draw: float) -> tuple[Target, str]:
        """The target of a request given a uniform draw in [0, 1): the candidate below weight%."""
        if self.candidate is not None and draw * 100 < self.weight:
            return self.candidate, "candidate"
        assert self.stable is not None
        return self.stable, "stable"
