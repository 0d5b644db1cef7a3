"""What a rollout should do, declared up front: one pydantic model (``extra="forbid"``) per section.

``mode`` is always declared, never guessed from which sections are present. Only the sections the mode uses
may be given (``shadow`` and, with ``shadow.then_canary``, ``canary``; ``canary``; ``ab``); the used ones
get their defaults when omitted, and an unused one is an error naming the mode.

>>> spec = RolloutSpec(mode="canary", candidate_version="4", canary={"steps": [0.1, 0.5, 1.0]})
>>> spec.canary.steps, spec.ab is None
((0.1, 0.5, 1.0), True)
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from pydantic import Field, model_validator

from driftline.core.strict import StrictModel
from driftline.rollout.ab import ABMetric, ABSpec, ABTest
from driftline.rollout.canary import CanarySpec
from driftline.rollout.shadow import ShadowSpec

__all__ = ["ABMetric", "ABSpec", "ABTest", "CanarySpec", "RolloutMode", "RolloutSpec", "ShadowSpec"]


class RolloutMode(str, Enum):
    SHADOW = "shadow"
    AB = "ab"
    CANARY = "canary"


_USED: dict[str, set[str]] = {"shadow": {"shadow"}, "canary": {"canary"}, "ab": {"ab"}}
_SECTIONS = ("shadow", "canary", "ab")


class RolloutSpec(StrictModel):
    """A declared rollout: mode, candidate version and the mode's settings."""

    mode: RolloutMode = Field(description="shadow | ab | canary.")
    candidate_version: str = Field(min_length=1, description="Registered model version to roll out.")
    shadow: ShadowSpec | None = Field(default=None, description="Settings of mode 'shadow'.")
    canary: CanarySpec | None = Field(default=None, description="Settings of mode 'canary' (or shadow.then_canary).")
    ab: ABSpec | None = Field(default=None, description="Settings of mode 'ab'.")
    max_duration_seconds: float = Field(
        default=86_400.0, gt=0, description="Deadline: a rollout still undecided after this long is rolled back."
    )
    answer_timeout_seconds: float = Field(
        default=600.0,
        gt=0,
        description="A candidate that answers no request for this long in a phase or step (it may not load) is "
        "rolled back.",
    )

    @model_validator(mode="before")
    @classmethod
    def _sections_for_mode(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        mode = data.get("mode")
        mode = mode.value if isinstance(mode, RolloutMode) else mode
        if not isinstance(mode, str) or mode not in _USED:  # e.g. {} (unhashable): found by the API fuzz test
            return data  # the enum validation reports it with the valid values
        used = set(_USED[mode])
        shadow = data.get("shadow")
        if isinstance(shadow, ShadowSpec):
            then_canary = shadow.then_canary
        else:  # anything but a mapping is left for the field's own validation to report
            then_canary = bool(shadow.get("then_canary")) if isinstance(shadow, dict) else False
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
