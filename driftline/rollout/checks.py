"""One comparison of a step's analysis (:class:`Check`) and the small helpers every mode shares.

>>> at_most("error_rate", 0.02, 0.01).passed
False
>>> ratio(0.2, 0.0) != ratio(0.2, 0.0)  # NaN: no data, so an at_most check fails
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from driftline.rollout.counters import VariantCounters
from driftline.rollout.state import RolloutState

__all__ = ["Check", "arm_summary", "arms", "at_least", "at_most", "finite_or_none", "fmt", "json_safe", "ratio"]


@dataclass(frozen=True)
class Check:
    """One comparison of a step's analysis: the observed value, its limit and whether it passed."""

    name: str
    observed: float
    limit: float
    passed: bool
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return json_safe(
            {
                "name": self.name,
                "observed": self.observed,
                "limit": self.limit,
                "passed": self.passed,
                "note": self.note,
            }
        )

    def describe(self) -> str:
        return self.note or f"{self.name} {fmt(self.observed)} vs limit {fmt(self.limit)}"


def at_most(name: str, observed: float, limit: float) -> Check:
    return Check(name, observed, limit, observed <= limit)  # NaN (no data) fails


def at_least(name: str, observed: float, limit: float) -> Check:
    return Check(name, observed, limit, observed >= limit)


def ratio(a: float, b: float) -> float:
    return a / b if b > 0 else math.nan


def arm_summary(c: VariantCounters) -> dict[str, Any]:
    return {
        "requests": c.requests,
        "errors": c.errors,
        "error_rate": finite_or_none(c.error_rate),
        "p50": finite_or_none(c.latency.quantile(0.5)),
        "p99": finite_or_none(c.p99),
        "labelled": c.labelled,
        "accuracy": finite_or_none(c.accuracy),
        **({"scored": c.scored, "mae": finite_or_none(c.mae)} if c.scored else {}),
    }


def arms(state: RolloutState) -> dict[str, Any]:
    return {"champion": arm_summary(state.champion), "candidate": arm_summary(state.candidate)}


def finite_or_none(x: float) -> float | None:
    return x if math.isfinite(x) else None


def fmt(x: float) -> str:
    return "n/a (no data)" if not math.isfinite(x) else f"{x:.4g}"


def json_safe(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value
