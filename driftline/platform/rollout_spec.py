"""What a rollout should do, declared up front: one pydantic model (``extra="forbid"``) per section.

``mode`` is always declared, never guessed from which sections are present. Only the sections the mode uses
may be given (``shadow`` and, with ``shadow.then_canary``, ``canary``; ``canary``; ``ab``); the used ones
get their defaults when omitted, and an unused one is an error naming the mode.

>>> spec = RolloutSpec(mode="canary", candidate_version="4", canary={"steps": [0.1, 0.5, 1.0]})
>>> spec.canary.steps, spec.ab is None
((0.1, 0.5, 1.0), True)
"""

from __future__ import annotations

import itertools
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["ABMetric", "ABSpec", "ABTest", "CanarySpec", "RolloutMode", "RolloutSpec", "ShadowSpec"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RolloutMode(str, Enum):
    SHADOW = "shadow"
    AB = "ab"
    CANARY = "canary"


class ABMetric(str, Enum):
    ACCURACY = "accuracy"  # from labelled feedback, higher is better
    ERROR_RATE = "error_rate"  # failed requests, lower is better
    LATENCY = "latency"  # seconds, lower is better


class ABTest(str, Enum):
    MSPRT = "msprt"  # sequential, always-valid p-value: safe to look at every tick
    FIXED = "fixed"  # one fixed-horizon test when both arms reach max_samples_per_arm


class ShadowSpec(_Section):
    fraction: float = Field(default=1.0, gt=0, le=1, description="Share of requests mirrored to the candidate.")
    min_requests: int = Field(default=500, ge=1, description="Shadow calls before the verdict.")
    max_error_rate: float = Field(default=0.01, ge=0, le=1, description="Highest tolerated candidate error rate.")
    max_p99_ratio: float = Field(default=1.5, gt=0, description="Highest tolerated candidate/champion p99 latency.")
    min_agreement: float | None = Field(
        default=None, ge=0, le=1, description="Lowest share of identical predictions; null only reports it."
    )
    then_canary: bool = Field(default=False, description="On a pass, continue with the canary section's steps.")


class CanarySpec(_Section):
    steps: tuple[float, ...] = Field(
        default=(0.05, 0.25, 0.5, 1.0), description="Candidate weights, strictly increasing, ending at 1.0."
    )
    min_requests_per_step: int = Field(default=200, ge=1, description="Candidate requests before a step's check.")
    min_seconds_per_step: float = Field(default=60.0, ge=0, description="Seconds at a step before its check.")
    max_error_rate_increase: float = Field(
        default=0.01, ge=0, le=1, description="Highest tolerated candidate minus champion error rate (absolute)."
    )
    max_p99_latency_ratio: float = Field(default=1.5, gt=0, description="Highest candidate/champion p99 latency.")
    min_quality_delta: float = Field(
        default=-0.02,
        ge=-1,
        le=1,
        description="Candidate minus champion accuracy allowed; fails when the whole CI lies below it.",
    )
    min_labelled: int = Field(default=200, ge=1, description="Labelled requests per arm before quality is tested.")
    quality_alpha: float = Field(default=0.05, gt=0, lt=1, description="Alpha of the quality CI.")
    max_failed_checks: int = Field(default=2, ge=0, description="Failed checks tolerated; one more rolls back.")

    @field_validator("steps")
    @classmethod
    def _ramp(cls, steps: tuple[float, ...]) -> tuple[float, ...]:
        if len(steps) < 2:
            raise ValueError(
                f"steps {list(steps)} need at least two weights (e.g. [0.1, 1.0]): the steps below 1.0 give the "
                "champion baseline the last step is compared with"
            )
        if any(not 0 < w <= 1 for w in steps):
            raise ValueError(f"steps {list(steps)} must all be in (0, 1]")
        if any(b <= a for a, b in itertools.pairwise(steps)):
            raise ValueError(f"steps {list(steps)} must be strictly increasing")
        if steps[-1] != 1.0:
            raise ValueError(f"steps {list(steps)} must end at 1.0 (the candidate then serves everyone)")
        return steps


class ABSpec(_Section):
    candidate_share: float = Field(default=0.5, gt=0, lt=1, description="Share of keys assigned to the candidate.")
    metric: ABMetric = Field(default=ABMetric.ACCURACY, description="accuracy | error_rate | latency.")
    test: ABTest = Field(default=ABTest.MSPRT, description="msprt (sequential, default) | fixed (one look).")
    alpha: float = Field(default=0.05, gt=0, lt=1, description="False-promotion/rollback rate of the test.")
    msprt_tau: float = Field(
        default=0.1, gt=0, description="mSPRT mixing sd, in per-observation standard deviations of the metric."
    )
    min_samples_per_arm: int = Field(default=200, ge=2, description="Samples per arm before the first look.")
    max_samples_per_arm: int = Field(default=20_000, ge=2, description="At this size without a verdict: roll back.")
    srm_alpha: float = Field(default=0.001, gt=0, lt=1, description="Alpha of the sample-ratio-mismatch guard.")
    salt: str | None = Field(default=None, min_length=1, description="Assignment salt; null derives it.")

    @model_validator(mode="after")
    def _sizes(self) -> ABSpec:
        if self.max_samples_per_arm < self.min_samples_per_arm:
            raise ValueError(
                f"max_samples_per_arm ({self.max_samples_per_arm}) must be >= min_samples_per_arm "
                f"({self.min_samples_per_arm})"
            )
        return self


_USED: dict[str, set[str]] = {"shadow": {"shadow"}, "canary": {"canary"}, "ab": {"ab"}}
_SECTIONS = ("shadow", "canary", "ab")


class RolloutSpec(_Section):
    """A declared rollout: mode, candidate version and the mode's settings."""

    mode: RolloutMode = Field(description="shadow | ab | canary.")
    candidate_version: str = Field(min_length=1, description="Registered model version to roll out.")
    shadow: ShadowSpec | None = Field(default=None, description="Settings of mode 'shadow'.")
    canary: CanarySpec | None = Field(default=None, description="Settings of mode 'canary' (or shadow.then_canary).")
    ab: ABSpec | None = Field(default=None, description="Settings of mode 'ab'.")

    @model_validator(mode="before")
    @classmethod
    def _sections_for_mode(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        mode = data.get("mode")
        mode = mode.value if isinstance(mode, RolloutMode) else mode
        if mode not in _USED:
            return data  # the enum validation reports it with the valid values
        used = set(_USED[mode])
        shadow = data.get("shadow")
        then_canary = shadow.then_canary if isinstance(shadow, ShadowSpec) else (shadow or {}).get("then_canary")
        if mode == "shadow" and then_canary:
            used.add("canary")
        for name in _SECTIONS:
            if name in used:
                if data.get(name) is None:
                    data[name] = {}
            elif data.get(name) is not None:
                hint = " (set shadow.then_canary: true to follow shadow with a canary)" if name == "canary" else ""
                raise ValueError(f"section '{name}' is set but mode is '{mode}'; remove it or change mode{hint}")
        return data

    @property
    def salt(self) -> str:
        """Assignment salt: ``ab.salt`` when given, else one derived from the candidate version."""
        if self.ab is not None and self.ab.salt:
            return self.ab.salt
        return f"rollout:{self.candidate_version}"
