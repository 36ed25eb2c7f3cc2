"""The router's settings, its choice of version and the scoring of labelled probes, without Ray
(tested directly)."""

from __future__ import annotations

import re
import unicodedata
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


MAX_EXPECTED_CHARS = 200
_NOT_COMPARED = re.compile(r"[\s.,!?'\"()\[\]:;~·\-]+")


def probe_outcome(output: str, expected: object) -> str | None:
    """A labelled probe's result: ``correct`` when the answer's first line equals the expected
    answer (after NFKC, lower case, without spaces and sentence punctuation, as the evaluate
    stage's exact match), ``wrong`` otherwise; None for a request that is not a probe (no
    ``expected``, or one that is not a string of at most MAX_EXPECTED_CHARS characters)."""
    if not isinstance(expected, str) or not expected.strip() or len(expected) > MAX_EXPECTED_CHARS:
        return None

    def norm(text: str) -> str:
        return _NOT_COMPARED.sub("", unicodedata.normalize("NFKC", text).lower())

    first = (output or "").strip().split("\n", 1)[0]
    return "correct" if norm(first) == norm(expected) else "wrong"
