"""The reference profile: everything drift tests need to know about the training data, built once per model.

Per numeric feature, ``n_bins`` quantile bins of the reference (default 1000, so each holds ~0.1% of the reference: KS
from histograms is then within ~0.001 of the exact statistic, see ``stattests/ks.py``), their counts and per-bin
sums, moments and extremes; the outer bins are open-ended. Per categorical feature, category counts. Plus the label
prior, the validation confusion matrix (rows = true class, cols = predicted) and baseline metrics. A classifier's
profile carries ``estimation``: CBPE, ATC and BCTS fitted on its validation probabilities, what the drift report
estimates performance with before labels arrive. A uniform ``sample`` of the reference's feature rows (2,000 by
default) feeds the joint-drift test (a domain classifier, ``domain_classifier.py``). For a regression target,
``outputs`` holds the same numeric summaries of the target (``label``) and of the model's holdout predictions
(``prediction``), which the drift report tests like features, and the baseline is RMSE and MAE. The profile is JSON
(``to_json``), stored by the training job as the MLflow artifact ``reference_profile``.

>>> import numpy as np, pandas as pd
>>> from driftline.datasets.schema import DatasetSchema, FeatureKind, FeatureSpec
>>> df = pd.DataFrame({"x0": np.arange(100.0), "region": ["a", "b"] * 50, "y": [0, 1, 1, 1] * 25})
>>> schema = DatasetSchema((FeatureSpec("x0", FeatureKind.NUMERIC), FeatureSpec("region", FeatureKind.CATEGORICAL)),
...                        label="y", classes=(0, 1))
>>> p = build_reference_profile(df, schema, n_bins=10)
>>> p.label_prior, ReferenceProfile.from_json(p.to_json()).numeric["x0"].n
({'0': 0.25, '1': 0.75}, 100)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from driftline.core.errors import DataError
from driftline.core.records import LOG_COLUMNS
from driftline.datasets.schema import ClassValue, DatasetSchema, FeatureKind, FeatureSpec
from driftline.monitors.columns import category_counts, class_index, float_values, is_numeric_type
from driftline.monitors.joint_sample import DEFAULT_SAMPLE_ROWS, reference_sample
from driftline.monitors.summaries import CategoricalSummary, NumericSummary

__all__ = ["DEFAULT_N_BINS", "ReferenceProfile", "build_reference_profile", "infer_schema", "profile_from_table"]

DEFAULT_N_BINS = 1000
PROFILE_VERSION = "1.0"


@dataclass
class ReferenceProfile:
    """Summaries of the reference data; JSON-safe through ``to_dict``/``to_json``."""

    schema: DatasetSchema
    n_rows: int
    n_bins: int
    numeric: dict[str, NumericSummary]
    categorical: dict[str, CategoricalSummary]
    label_counts: np.ndarray | None = None
    confusion_matrix: np.ndarray | None = None
    baseline: dict[str, float] = field(default_factory=dict)
    source: str = ""
    outputs: dict[str, NumericSummary] = field(default_factory=dict)  # regression: "label", "prediction"
    estimation: dict[str, Any] = field(default_factory=dict)  # classifier: CBPE/ATC/BCTS fits (window_estimate.py)
    sample: dict[str, list[Any]] = field(default_factory=dict)  # feature rows for the joint-drift test

    @property
    def label_prior(self) -> dict[str, float] | None:
        if self.label_counts is None or self.label_counts.sum() == 0:
            return None
        p = self.label_counts / self.label_counts.sum()
        return {str(c): float(v) for c, v in zip(self.schema.classes, p, strict=True)}

    def to_dict(self) -> dict[str, Any]:
        return {
            "profile_version": PROFILE_VERSION,
            "schema": self.schema.to_dict(),
            "n_rows": self.n_rows,
            "n_bins": self.n_bins,
            "numeric": {k: v.to_dict() for k, v in self.numeric.items()},
            "categorical": {k: v.to_dict() for k, v in self.categorical.items()},
            "label_counts": None if self.label_counts is None else self.label_counts.tolist(),
            "label_prior": self.label_prior,
            "confusion_matrix": None if self.confusion_matrix is None else self.confusion_matrix.tolist(),
            "baseline": dict(self.baseline),
            "source": self.source,
            "outputs": {k: v.to_dict() for k, v in self.outputs.items()},
            "estimation": self.estimation,
            "sample": self.sample,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ReferenceProfile:
        if str(d.get("profile_version", "")).split(".")[0] != PROFILE_VERSION.split(".")[0]:
            raise DataError(
                f"Reference profile version {d.get('profile_version')!r} is not supported "
                f"(expected {PROFILE_VERSION}).",
                "Rebuild the profile with this driftline version (retrain, or pass the reference as Parquet).",
            )
        cm = d.get("confusion_matrix")
        lc = d.get("label_counts")
        return cls(
            schema=DatasetSchema.from_dict(d["schema"]),
            n_rows=int(d["n_rows"]),
            n_bins=int(d["n_bins"]),
            numeric={k: NumericSummary.from_dict(v) for k, v in d["numeric"].items()},
            categorical={k: CategoricalSummary.from_dict(v) for k, v in d["categorical"].items()},
            label_counts=None if lc is None else np.asarray(lc, dtype=np.int64),
            confusion_matrix=None if cm is None else np.asarray(cm, dtype=np.float64),
            baseline={k: float(v) for k, v in d.get("baseline", {}).items()},
            source=str(d.get("source", "")),
            outputs={k: NumericSummary.from_dict(v) for k, v in (d.get("outputs") or {}).items()},
            estimation=dict(d.get("estimation") or {}),
            sample=dict(d.get("sample") or {}),
        )

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> ReferenceProfile:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(f"Reference profile is not valid JSON: {exc}.", "Check the artifact or file.") from None
        return cls.from_dict(data)


def _quantiles_sorted(x: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """``np.quantile(x, levels)`` (method "linear") for sorted ``x``, by indexing instead of partitioning."""
    n = x.size
    virtual = n * levels + (1 - levels) - 1  # numpy's virtual index for alpha = beta = 1
    prev = np.clip(np.floor(virtual).astype(np.int64), 0, n - 1)
    nxt = np.clip(prev + 1, 0, n - 1)
    gamma = virtual - np.floor(virtual)
    a, b = x[prev], x[nxt]
    diff = b - a
    return np.where(gamma >= 0.5, b - diff * (1 - gamma), a + diff * gamma)  # numpy's _lerp


def _numeric_profile(values: np.ndarray, n_bins: int) -> NumericSummary:
    finite = np.isfinite(values)
    x = np.sort(values if finite.all() else values[finite])
    n_nan = int(np.isnan(values).sum())
    if x.size == 0:
        out = NumericSummary.empty(np.empty(0))
        out.n_nan, out.n_inf = n_nan, int(values.size - n_nan)
        return out
    # Quantile edges with ties removed: a value repeated over many quantiles becomes one edge whose bin holds it all.
    edges = np.unique(_quantiles_sorted(x, np.arange(1, n_bins) / n_bins))
    median = float(x[x.size // 2])  # centring the moments keeps var = E[d^2] - E[d]^2 accurate for offset data
    out = NumericSummary.empty(edges, shift=median)
    # x is sorted, so bin k is the slice between consecutive "values <= edge" positions (bins are right-closed)
    bounds = np.concatenate([[0], np.searchsorted(x, edges, side="right"), [x.size]])
    out.counts = np.diff(bounds).astype(np.int64)
    full = out.counts > 0  # reduceat needs strictly increasing starts: sum the non-empty slices only
    out.sums = np.zeros(len(out.counts))
    out.sums[full] = np.add.reduceat(x, bounds[:-1][full])
    dev = x - median
    out.n, out.sum_dev, out.sum_dev2 = int(x.size), float(dev.sum()), float(dev @ dev)
    out.min, out.max = float(x[0]), float(x[-1])
    out.n_nan, out.n_inf = n_nan, int(values.size - x.size - n_nan)
    return out


def profile_from_table(
    table: pa.Table,
    schema: DatasetSchema,
    *,
    confusion_matrix: np.ndarray | None = None,
    baseline: dict[str, float] | None = None,
    n_bins: int = DEFAULT_N_BINS,
    source: str = "",
    predictions: np.ndarray | None = None,
    sample_rows: int = DEFAULT_SAMPLE_ROWS,
) -> ReferenceProfile:
    """Same as :func:`build_reference_profile`, from an Arrow table."""
    if n_bins < 2:
        raise DataError(f"n_bins={n_bins} is too small.", "Use at least 2 (the default 1000 keeps KS error ~1e-3).")
    if table.num_rows == 0:
        raise DataError("The reference data has no rows.", "Pass the training (or validation) data the model saw.")
    missing = [f.name for f in schema.features if f.name not in table.column_names]
    if missing:
        raise DataError(
            f"Reference data lacks feature columns {missing}; it has {table.column_names}.",
            "Pass data with every feature of the schema, or fix the schema.",
        )
    numeric: dict[str, NumericSummary] = {}
    categorical: dict[str, CategoricalSummary] = {}
    for spec in schema.features:
        column = table.column(spec.name)
        if spec.kind is FeatureKind.NUMERIC:
            numeric[spec.name] = _numeric_profile(float_values(column, spec.name), n_bins)
        else:
            categorical[spec.name] = category_counts(column, spec.name)
    outputs: dict[str, NumericSummary] = {}
    if schema.is_regression and schema.label in table.column_names:
        outputs["label"] = _numeric_profile(float_values(table.column(schema.label), schema.label), n_bins)
    if schema.is_regression and predictions is not None and len(predictions):
        outputs["prediction"] = _numeric_profile(np.asarray(predictions, np.float64), n_bins)
    label_counts = None
    if schema.label in table.column_names and schema.classes:
        idx = class_index(table.column(schema.label), schema.classes, schema.label)
        label_counts = np.bincount(idx[idx >= 0], minlength=len(schema.classes)).astype(np.int64)
    cm = None
    if confusion_matrix is not None:
        cm = np.asarray(confusion_matrix, dtype=np.float64)
        k = len(schema.classes)
        if cm.shape != (k, k) or (cm < 0).any() or not np.isfinite(cm).all():
            raise DataError(
                f"confusion_matrix has shape {cm.shape} (or negative/non-finite counts); expected ({k}, {k}) counts.",
                "Pass counts with rows = true class and columns = predicted class, in schema.classes order.",
            )
    return ReferenceProfile(
        schema=schema,
        n_rows=int(table.num_rows),
        n_bins=int(n_bins),
        numeric=numeric,
        categorical=categorical,
        label_counts=label_counts,
        confusion_matrix=cm,
        baseline={k: float(v) for k, v in (baseline or {}).items()},
        source=source,
        outputs=outputs,
        sample=reference_sample(
            table, [f.name for f in schema.numeric], [f.name for f in schema.categorical], sample_rows
        )
        if sample_rows
        else {},
    )


def build_reference_profile(
    df: pd.DataFrame,
    schema: DatasetSchema,
    *,
    confusion_matrix: np.ndarray | None = None,
    baseline: dict[str, float] | None = None,
    n_bins: int = DEFAULT_N_BINS,
    predictions: np.ndarray | None = None,
    sample_rows: int = DEFAULT_SAMPLE_ROWS,
) -> ReferenceProfile:
    """Profile ``df`` (the model's training data) under ``schema``; see the module docstring for what is kept.
    ``predictions`` (regression): the model's holdout predictions, the reference of prediction drift."""
    wanted = [c for c in dict.fromkeys([*schema.feature_names, schema.label]) if c in df.columns]
    table = pa.Table.from_pandas(df, columns=wanted, preserve_index=False)  # no copy of the frame
    return profile_from_table(
        table,
        schema,
        confusion_matrix=confusion_matrix,
        baseline=baseline,
        n_bins=n_bins,
        source="dataframe",
        predictions=predictions,
        sample_rows=sample_rows,
    )


def infer_schema(
    arrow_schema: pa.Schema, *, label: str | None = None, classes: tuple[ClassValue, ...] = ()
) -> DatasetSchema:
    """Guess features from column types: numeric (float/int) and categorical (string/dictionary/bool) columns.

    The label is ``label`` if given, else a column named ``label`` or ``y``; the prediction-log columns
    (request_id, timestamp, prediction, ...) are never features. ``classes`` are filled in by the caller from the
    label values when empty.
    """
    names = arrow_schema.names
    label_col = label or next((c for c in ("label", "y") if c in names), "label")
    features: list[FeatureSpec] = []
    for f in arrow_schema:
        if f.name == label_col or f.name in LOG_COLUMNS:
            continue
        t = f.type.value_type if pa.types.is_dictionary(f.type) else f.type
        if pa.types.is_boolean(t) or pa.types.is_string(t) or pa.types.is_large_string(t):
            features.append(FeatureSpec(f.name, FeatureKind.CATEGORICAL))
        elif is_numeric_type(t) and not pa.types.is_null(t):
            features.append(FeatureSpec(f.name, FeatureKind.NUMERIC))
    if not features:
        raise DataError(
            f"Found no feature columns in {names}.", "Give an explicit schema in the drift config (schema: ...)."
        )
    return DatasetSchema(tuple(features), label=label_col, classes=classes, timestamp=None)
