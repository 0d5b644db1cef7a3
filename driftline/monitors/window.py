"""What a window summary is built from: the plan (edges, columns, filters) and the per-block summariser.

Both engines call :func:`summarize_table` on Arrow tables (the whole window in memory, or one Ray Data block at a
time), so the same rows are kept and counted the same way: ``role == "served"`` rows only when a ``role``
column exists, ``since <= timestamp < until`` when bounds are given, labels from the feedback log joined on
``(request_id, row)`` (a multi-row request has one label per row; a table without a ``row`` column is row 0),
else from the label column when the window has one. For a regression model (no classes) the label and the
prediction are numbers: the summary bins both on the reference's edges (``outputs``) and sums the residuals.

>>> import numpy as np, pyarrow as pa
>>> from driftline.monitors.summaries import NumericSummary
>>> plan = SummaryPlan(numeric={"x": (np.array([0.0]), 0.0)}, categorical=(), classes=(0, 1))
>>> summarize_table(pa.table({"x": [-1.0, 1.0, 2.0]}), plan).numeric["x"].counts.tolist()
[1, 2]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads

from driftline.core.errors import DataError
from driftline.core.records import Role
from driftline.datasets.schema import ClassValue, FeatureKind
from driftline.monitors.columns import category_counts, class_index, float_values, is_categorical_type, is_numeric_type
from driftline.monitors.feedback_join import FeedbackLog
from driftline.monitors.joint_sample import DEFAULT_SAMPLE_ROWS, RowSample
from driftline.monitors.profile import ReferenceProfile
from driftline.monitors.summaries import (
    CategoricalSummary,
    LabelSummary,
    NumericSummary,
    ResidualSummary,
    WindowSummary,
)
from driftline.monitors.window_files import WindowFiles, to_micros, window_files

__all__ = [
    "SummaryPlan",
    "open_dataset",
    "open_window",
    "summarize_table",
    "to_micros",
]

PREDICTION = "prediction"
US_UTC = pa.timestamp("us", tz="UTC")


@dataclass(frozen=True)
class SummaryPlan:
    """Everything a block needs: reference edges per numeric feature (with the moment shift), columns, filters."""

    numeric: dict[str, tuple[np.ndarray, float]]
    categorical: tuple[str, ...]
    classes: tuple[ClassValue, ...]
    label_column: str | None = None
    prediction_column: str | None = None
    timestamp_column: str | None = None
    filter_role: bool = False
    since_us: int | None = None
    until_us: int | None = None
    feedback: FeedbackLog | None = field(default=None, repr=False)
    has_row: bool = False  # the window has a ``row`` column (multi-row requests)
    outputs: dict[str, tuple[np.ndarray, float]] = field(default_factory=dict)  # regression: label, prediction edges
    probability_column: str | None = None  # classifier: the log's per-row class probabilities (label-free estimates)
    sample_rows: int = 0  # rows of the window's joint-drift sample (0: none)

    @property
    def columns(self) -> list[str]:
        """Columns to read from the window (projection pushed into the Parquet reader)."""
        extra = [self.label_column, self.prediction_column, self.timestamp_column, self.probability_column]
        extra += ["role"] if self.filter_role else []
        extra += ["request_id", "row"] if self.feedback is not None else []
        wanted = dict.fromkeys([*self.numeric, *self.categorical, *(c for c in extra if c)])
        return [c for c in wanted if c != "row" or self.has_row]

    @classmethod
    def for_window(
        cls,
        profile: ReferenceProfile,
        window_schema: pa.Schema,
        *,
        since: str | datetime | None = None,
        until: str | datetime | None = None,
        feedback: FeedbackLog | None = None,
        sample_rows: int = DEFAULT_SAMPLE_ROWS,
    ) -> SummaryPlan:
        """Check the window's columns against the profile and plan the pass; bad columns raise DataError."""
        names = set(window_schema.names)
        features = profile.schema.features
        missing = [f.name for f in features if f.name not in names]
        if missing:
            raise DataError(
                f"The window lacks feature columns {missing} (it has {sorted(names)}).",
                "Pass a window logged by a model with the reference's features, or fix the schema.",
            )
        for f in features:
            t = window_schema.field(f.name).type
            ok = is_numeric_type(t) if f.kind is FeatureKind.NUMERIC else is_categorical_type(t)
            if not ok:
                raise DataError(
                    f"Column '{f.name}' is {f.kind.value} in the reference but has type {t} in the window.",
                    "Fix the producer of the window, or the feature's kind in the schema.",
                )
        if feedback is not None and "request_id" not in names:
            raise DataError("A feedback log was given but the window has no request_id column.", "Drop --feedback.")
        label = next((c for c in (profile.schema.label, "label") if c in names), None) if feedback is None else None
        pred = PREDICTION if PREDICTION in names else None
        ts_col = next((c for c in (profile.schema.timestamp, "timestamp") if c and c in names), None)
        if ts_col is not None and not pa.types.is_timestamp(window_schema.field(ts_col).type):
            ts_col = None
        since_us, until_us = to_micros(since), to_micros(until)
        if (since_us is not None or until_us is not None) and ts_col is None:
            raise DataError("--since/--until need a timestamp column in the window.", "Drop them or add 'timestamp'.")
        numeric = {
            f.name: (profile.numeric[f.name].edges, profile.numeric[f.name].mean if profile.numeric[f.name].n else 0.0)
            for f in profile.schema.numeric
        }
        return cls(
            numeric=numeric,
            categorical=tuple(f.name for f in profile.schema.categorical),
            classes=profile.schema.classes,
            label_column=label,
            prediction_column=pred,
            timestamp_column=ts_col,
            filter_role="role" in names,
            since_us=since_us,
            until_us=until_us,
            feedback=feedback,
            has_row="row" in names,
            outputs={k: (v.edges, v.mean if v.n else 0.0) for k, v in profile.outputs.items()},
            probability_column=_probability_column(profile, window_schema),
            sample_rows=sample_rows if profile.sample else 0,
        )


NULL_TS = np.iinfo(np.int64).min


def _micros(column: pa.ChunkedArray) -> np.ndarray:
    """Timestamps as int64 microseconds (UTC; naive means UTC); nulls become ``NULL_TS``."""
    ints = pc.fill_null(column.cast(US_UTC, safe=False).cast(pa.int64()), NULL_TS)
    return np.asarray(ints.to_numpy(zero_copy_only=False), dtype=np.int64)


def _filter(table: pa.Table, plan: SummaryPlan) -> pa.Table:
    mask = None
    if plan.filter_role:
        mask = pc.fill_null(pc.equal(table.column("role"), Role.SERVED.value), False)
    if plan.timestamp_column and (plan.since_us is not None or plan.until_us is not None):
        ts = _micros(table.column(plan.timestamp_column))
        keep = np.ones(len(ts), dtype=bool)
        keep &= ts >= plan.since_us if plan.since_us is not None else True
        keep &= ts < plan.until_us if plan.until_us is not None else True
        mask = pa.array(keep) if mask is None else pc.and_(mask, pa.array(keep))
    return table if mask is None else table.filter(mask)


def summarize_table(table: pa.Table, plan: SummaryPlan) -> WindowSummary:
    """Summary of one block (or a whole window) after the plan's filters."""
    table = _filter(table, plan)
    numeric = {
        name: NumericSummary.from_values(float_values(table.column(name), name), edges, shift)
        for name, (edges, shift) in plan.numeric.items()
    }
    categorical = {name: category_counts(table.column(name), name) for name in plan.categorical}
    k = len(plan.classes)
    labels = LabelSummary.empty(k)
    if not k:  # a regression model
        return _regression_summary(table, plan, numeric, categorical)
    y = p = None
    ts_min, ts_max = _time_range(table, plan)
    if plan.feedback is not None:
        y = class_index(plan.feedback.labels_for(table, (ts_min, ts_max)), plan.classes, "label (feedback)")
    elif plan.label_column is not None:
        y = class_index(table.column(plan.label_column), plan.classes, plan.label_column)
    if plan.prediction_column is not None:
        p = class_index(table.column(plan.prediction_column), plan.classes, plan.prediction_column)
    if y is not None and k:
        labels.label_counts = np.bincount(y[y >= 0], minlength=k).astype(np.int64)
    if p is not None and k:
        labels.prediction_counts = np.bincount(p[p >= 0], minlength=k).astype(np.int64)
    if y is not None and p is not None and k:
        both = (y >= 0) & (p >= 0)
        labels.joint = np.bincount(y[both] * k + p[both], minlength=k * k).reshape(k, k).astype(np.int64)
    return WindowSummary(
        sample=_sample(table, plan),
        scores=_scores(table, plan),
        rows=int(table.num_rows),
        numeric=numeric,
        categorical=categorical,
        labels=labels,
        has_labels=y is not None,
        has_predictions=p is not None,
        ts_min=ts_min,
        ts_max=ts_max,
    )


PROBABILITIES = "probabilities"


def _sample(table: pa.Table, plan: SummaryPlan) -> RowSample | None:
    if not plan.sample_rows:
        return None
    extra = [plan.probability_column] if plan.probability_column else []  # multiclass MLLS reads sampled rows
    return RowSample.of(table, [*plan.numeric, *plan.categorical, *extra], plan.sample_rows)


def _probability_column(profile: ReferenceProfile, window_schema: pa.Schema) -> str | None:
    """The log's probabilities column when the profile can estimate performance from it."""
    if not profile.estimation or PROBABILITIES not in window_schema.names:
        return None
    kind = window_schema.field(PROBABILITIES).type
    return PROBABILITIES if pa.types.is_list(kind) or pa.types.is_large_list(kind) else None


def _scores(table: pa.Table, plan: SummaryPlan) -> np.ndarray:
    """Histogram of each row's score (binary: P(class 1); else the top probability) for label-free estimates."""
    from driftline.monitors.estimation.window_estimate import score_histogram

    if plan.probability_column is None or not table.num_rows:
        return np.zeros(0, np.int64)
    column = table.column(plan.probability_column).combine_chunks()
    k = len(plan.classes)
    whole = pc.fill_null(pc.equal(pc.list_value_length(column), k), False)
    values = np.asarray(pc.list_flatten(column.filter(whole)).to_numpy(zero_copy_only=False), np.float64)
    p = values.reshape(-1, k)
    return score_histogram(p[:, 1] if k == 2 else p.max(axis=1))


def _time_range(table: pa.Table, plan: SummaryPlan) -> tuple[int | None, int | None]:
    if plan.timestamp_column and table.num_rows:
        ts = _micros(table.column(plan.timestamp_column))
        ts = ts[ts != NULL_TS]
        if ts.size:
            return int(ts.min()), int(ts.max())
    return None, None


def _regression_summary(
    table: pa.Table,
    plan: SummaryPlan,
    numeric: dict[str, NumericSummary],
    categorical: dict[str, CategoricalSummary],
) -> WindowSummary:
    """Numbers for label and prediction: their histograms on the reference's edges and the residuals' sums."""
    y = p = None
    ts_min, ts_max = _time_range(table, plan)
    if plan.feedback is not None:
        y = float_values(plan.feedback.labels_for(table, (ts_min, ts_max)), "label (feedback)")
    elif plan.label_column is not None:
        y = float_values(table.column(plan.label_column), plan.label_column)
    if plan.prediction_column is not None:
        p = float_values(table.column(plan.prediction_column), plan.prediction_column)
    outputs: dict[str, NumericSummary] = {}
    for name, values in (("label", y), ("prediction", p)):
        if name in plan.outputs:
            edges, shift = plan.outputs[name]
            present = values[~np.isnan(values)] if values is not None else np.empty(0)
            outputs[name] = NumericSummary.from_values(present, edges, shift)
    residuals = ResidualSummary.from_errors(p - y) if y is not None and p is not None else ResidualSummary()
    return WindowSummary(
        sample=_sample(table, plan),
        rows=int(table.num_rows),
        numeric=numeric,
        categorical=categorical,
        labels=LabelSummary.empty(0),
        has_labels=y is not None,
        has_predictions=p is not None,
        ts_min=ts_min,
        ts_max=ts_max,
        outputs=outputs,
        residuals=residuals,
    )


def open_dataset(path: str | Path | list[str]) -> pads.Dataset:
    """A Parquet file, folder (hive partitions such as ``dt=.../hour=...`` are read as columns) or list of files."""
    if isinstance(path, list):
        if not path:
            raise DataError(
                "The window has no readable Parquet files.", "Check the --current path and the time window."
            )
        return pads.dataset(path, format="parquet")
    p = Path(path)
    if "://" not in str(path) and not p.exists():
        raise DataError(f"No Parquet data at {path}.", "Check the --current/--reference path.")
    try:
        return pads.dataset(str(path), format="parquet", partitioning="hive")
    except (pa.ArrowInvalid, OSError) as exc:
        raise DataError(f"Could not read Parquet at {path}: {exc}.", "Pass a Parquet file or folder.") from None


def open_window(
    path: str | Path, since: str | datetime | None = None, until: str | datetime | None = None
) -> tuple[pads.Dataset, WindowFiles]:
    """The window's dataset over only the readable files of the hour partitions it needs (see window_files)."""
    if "://" not in str(path) and not Path(path).exists():
        raise DataError(f"No Parquet data at {path}.", "Check the --current/--reference path.")
    files = window_files(path, to_micros(since), to_micros(until))
    return open_dataset(files.paths), files
