"""Config schema of the retrain policy (``configs/policy.yaml``): the strategy is declared, never guessed.

Durations accept seconds (``3600``), ``"90m"``, ``"6h"``, ``"2d"``, ``"1h30m"`` or ISO 8601 (``"PT6H"``).

>>> cfg = PolicyConfig(strategy="periodic", periodic={"every_rows": 5000})
>>> cfg.strategy, cfg.periodic.every_rows, cfg.guards.cooldown
(<Strategy.PERIODIC: 'periodic'>, 5000, datetime.timedelta(seconds=21600))
"""

from __future__ import annotations

import re
from datetime import timedelta
from enum import Enum
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from driftline.core.strict import StrictModel

__all__ = [
    "ContinualConfig",
    "Duration",
    "GuardConfig",
    "PeriodicConfig",
    "PolicyConfig",
    "Strategy",
    "TriggerConfig",
    "parse_duration",
]

_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")


def parse_duration(value: Any) -> Any:
    """``"6h"``/``"1h30m"``/``"2d"`` -> timedelta; anything else is left for pydantic (seconds, ISO 8601, timedelta).

    >>> parse_duration("1h30m")
    datetime.timedelta(seconds=5400)
    """
    if isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        parts = _DURATION.findall(text)
        if parts and "".join(n + u for n, u in parts) == text:
            return timedelta(seconds=sum(float(n) * _UNIT_SECONDS[u] for n, u in parts))
    return value


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


class Strategy(str, Enum):
    """How retraining is scheduled."""

    NEVER = "never"
    PERIODIC = "periodic"
    TRIGGERED = "triggered"
    CONTINUAL = "continual"


class PeriodicConfig(StrictModel):
    every_rows: int | None = Field(
        default=5000,
        ge=1,
        description="Retrain once this many new labelled rows arrived since the last retrain; null disables.",
    )
    every: Duration | None = Field(
        default=None, description="Retrain once this much time passed since the last retrain; null disables."
    )


class TriggerConfig(StrictModel):
    performance_drop: float | None = Field(
        default=0.05,
        gt=0,
        description="Fire when baseline - current accuracy >= this (regression: when RMSE/MAE rose by this share of "
        "the baseline, 0.05 = 5%) and the change is significant; null off.",
    )
    performance_metric: Literal["rmse", "mae"] | None = Field(
        default=None, description="Regression: the error metric the performance trigger reads; null: the report's."
    )
    significance: float = Field(
        default=0.01,
        gt=0,
        lt=1,
        description="The decay must have p_value <= this (the report's 'decayed' flag when it has no p-value).",
    )
    drift_share: float | None = Field(
        default=0.5, gt=0, le=1, description="Fire when the share of drifted features >= this; null off."
    )
    dataset_drift: bool = Field(default=True, description="Fire when the report's summary.dataset_drift is true.")
    joint_drift: bool = Field(
        default=False, description="Fire when the domain classifier tells the window from the reference (joint drift)."
    )
    label_shift_tv: float | None = Field(
        default=0.1,
        gt=0,
        le=1,
        description="Fire when the total-variation distance of the estimated prior from the reference >= this.",
    )
    detector: bool = Field(default=True, description="Fire when a streaming error-rate detector fired (state flag).")
    estimated_drop: float | None = Field(
        default=None,
        gt=0,
        le=1,
        description="Fire before labels arrive when baseline accuracy - the upper end of the estimated accuracy's "
        "interval (CBPE) >= this; null off (no label-free estimate sees concept drift: docs/concepts/estimation.md).",
    )
    refresh_below_rows: int | None = Field(
        default=1_000,
        ge=1,
        description="A champion retrained on fewer rows than this is retrained again (refresh) once "
        "refresh_factor times as many new labelled rows arrived; null off.",
    )
    refresh_factor: float = Field(default=3.0, gt=0, description="See refresh_below_rows.")


class ContinualConfig(StrictModel):
    min_labelled_rows: int = Field(
        default=200, ge=1, description="Labelled rows since the last update needed for an incremental update."
    )
    steps: int = Field(default=20, ge=1, description="Optimiser steps of each incremental update (a few, not epochs).")


class GuardConfig(StrictModel):
    cooldown: Duration = Field(
        default=timedelta(hours=6), description="No retrain sooner than this after the previous retrain."
    )
    max_retrains: int = Field(default=3, ge=1, description="At most this many retrains per budget_period.")
    budget_period: Duration = Field(default=timedelta(hours=24), description="Rolling window the budget counts over.")
    min_new_labelled_rows: int = Field(
        default=500, ge=0, description="Labelled rows since the last retrain needed before retraining."
    )
    min_benefit: float = Field(
        default=0.02,
        ge=0,
        description="Expected gain (baseline - current metric) a triggered retrain must promise, when measured.",
    )
    require_measured_benefit: bool = Field(
        default=False,
        description="If true, a triggered retrain without a performance measurement is suppressed by 'benefit'.",
    )
    max_unaddressed: Duration = Field(
        default=timedelta(hours=24),
        description="Raise a stale alarm when a trigger has fired this long without a retrain/update/reweight.",
    )


class PolicyConfig(StrictModel):
    """The retrain policy: one declared strategy, its thresholds, and the cost/risk guards."""

    strategy: Strategy = Field(
        default=Strategy.TRIGGERED, description="never | periodic | triggered | continual (declared, never inferred)."
    )
    periodic: PeriodicConfig = Field(default_factory=PeriodicConfig, description="Used when strategy is periodic.")
    triggers: TriggerConfig = Field(
        default_factory=TriggerConfig, description="Used by triggered; evaluated for evidence by every strategy."
    )
    continual: ContinualConfig = Field(default_factory=ContinualConfig, description="Used when strategy is continual.")
    guards: GuardConfig = Field(default_factory=GuardConfig, description="Cooldown, budget, minimum rows, benefit.")
    label_shift_fix: bool = Field(
        default=False,
        description="On pure label shift (prior moved, no sign of concept drift) reweight outputs instead of retrain.",
    )

    @model_validator(mode="after")
    def _check_strategy_settings(self) -> PolicyConfig:
        if self.strategy is Strategy.PERIODIC and self.periodic.every_rows is None and self.periodic.every is None:
            raise ValueError(
                "strategy 'periodic' needs periodic.every_rows or periodic.every (both are null); set one, e.g. "
                "periodic.every_rows: 5000"
            )
        t = self.triggers
        if self.strategy is Strategy.TRIGGERED and not (
            t.performance_drop
            or t.drift_share
            or t.dataset_drift
            or t.label_shift_tv
            or t.detector
            or t.estimated_drop
            or t.joint_drift
        ):
            raise ValueError("strategy 'triggered' has every trigger disabled; enable at least one under triggers")
        if self.label_shift_fix and t.label_shift_tv is None:
            raise ValueError(
                "label_shift_fix is true but triggers.label_shift_tv is null; set a threshold, e.g. 0.1, or turn the "
                "fix off"
            )
        return self
