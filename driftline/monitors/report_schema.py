"""The drift report's typed schema, shared by the monitors that write it and the policy that reads it.

``report.json`` stays the source (see ``REPORT_SCHEMA.md``); :meth:`DriftReport.parse` turns it into typed
sections, so no reader picks fields out by string keys. Fields marked *(extra)* in the schema document are kept
(``extra="allow"``) but not typed here. A report whose major version differs is refused with the fix.

>>> report = DriftReport.parse({"schema_version": "1.0", "window": {"rows": 10, "labelled_rows": 4},
...                             "performance": {"metric": "accuracy", "baseline": 0.9, "current": 0.8}})
>>> report.window.rows, report.performance.current, report.summary is None
(10, 0.8, True)
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from driftline.core.errors import DataError

__all__ = [
    "REPORT_SCHEMA_MAJOR",
    "REPORT_SCHEMA_VERSION",
    "DriftReport",
    "EstimatedPerformance",
    "LabelShiftSection",
    "PerformanceSection",
    "SummarySection",
    "WindowSection",
]

REPORT_SCHEMA_VERSION = "1.0"
REPORT_SCHEMA_MAJOR = REPORT_SCHEMA_VERSION.split(".")[0]


class _Section(BaseModel):
    # Readers are lenient about additions (the "(extra)" fields), strict about the types of what they read.
    model_config = ConfigDict(extra="allow", frozen=True, allow_inf_nan=False)


class WindowSection(_Section):
    start: str | None = None
    end: str | None = None
    rows: int = Field(default=0, ge=0)
    labelled_rows: int = Field(default=0, ge=0)


class EstimateInterval(_Section):
    value: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None


class EstimatedPerformance(_Section):
    """``performance.estimated``: accuracy before labels (CBPE headline, ATC beside it)."""

    method: str | None = None
    n: int | None = None
    accuracy: EstimateInterval | None = None
    atc: EstimateInterval | None = None
    baseline: float | None = None
    drop: float | None = None
    decayed: bool = False


class PerformanceSection(_Section):
    metric: str = "accuracy"
    baseline: float | None = None
    current: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    p_value: float | None = None
    n: int | None = None
    decayed: bool = False
    baseline_trained_rows: int | None = None  # rows the model learnt from (a retrain on few rows gets refreshed)
    estimated: EstimatedPerformance | None = None


class SummarySection(_Section):
    drifted_features: list[str] = Field(default_factory=list)
    share_drifted: float | None = None
    dataset_drift: bool = False
    method: str | None = None
    label_shift: bool = False
    performance_decay: bool = False
    estimated_decay: bool = False
    joint_drift: bool = False


class LabelShiftSection(_Section):
    reference_prior: dict[str, float] | None = None
    observed_prior: dict[str, float] | None = None
    estimated_prior: dict[str, float] | None = None
    class_weights: dict[str, float] | None = None
    total_variation: float | None = None
    shift_detected: bool = False


class DriftReport(_Section):
    """The sections of a drift report that decisions are made on; see ``REPORT_SCHEMA.md`` for all of it."""

    schema_version: str = REPORT_SCHEMA_VERSION
    window: WindowSection | None = None
    summary: SummarySection | None = None
    performance: PerformanceSection | None = None
    label_shift: LabelShiftSection | None = None
    features: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def parse(cls, report: DriftReport | dict[str, Any]) -> DriftReport:
        """The typed report; a wrong major version or a mistyped field is a :class:`DataError` naming it."""
        if isinstance(report, DriftReport):
            return report
        if not isinstance(report, dict):
            raise DataError(f"A drift report must be a mapping, got {type(report).__name__}.")
        version = str(report.get("schema_version", REPORT_SCHEMA_VERSION))
        if version.split(".")[0] != REPORT_SCHEMA_MAJOR:
            raise DataError(
                f"drift report schema_version {version!r}; this driftline reads {REPORT_SCHEMA_MAJOR}.x.",
                "Regenerate the report with the matching driftline version.",
            )
        try:
            return cls.model_validate(report)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise DataError(
                f"drift report '{where}' is {first.get('input')!r}: {first['msg']}.",
                "Regenerate the report with driftline's drift job; see REPORT_SCHEMA.md for the field's type.",
            ) from None
