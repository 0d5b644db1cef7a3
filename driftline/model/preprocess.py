"""Tabular preprocessing saved with the model: standard scaling for numeric features, one-hot for categories.

Missing values: a numeric gap is filled with the training median, plus a 0/1 "was missing" input for every feature
that had gaps in training. A missing or unseen category goes to one "other" input, never to an error, so a new
category in production degrades gracefully and shows up in drift reports instead.

>>> import pandas as pd
>>> from driftline.datasets.synthetic import SYNTHETIC_SCHEMA, generate_stream
>>> frame, _ = generate_stream("stationary", 200, seed=0)
>>> pre = TabularPreprocessor.fit(frame, SYNTHETIC_SCHEMA)
>>> pre.transform(frame).shape
(200, 9)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from driftline.core.errors import DataError
from driftline.datasets.schema import DatasetSchema, FeatureKind

__all__ = ["TabularPreprocessor", "check_columns"]


def check_columns(frame: pd.DataFrame, schema: DatasetSchema) -> None:
    """Raise DataError naming every missing feature column."""
    missing = [name for name in schema.feature_names if name not in frame.columns]
    if missing:
        raise DataError(
            f"Missing feature column(s) {missing}.", f"Provide every feature: {list(schema.feature_names)}."
        )


@dataclass(frozen=True)
class TabularPreprocessor:
    """Fitted scaling and encoding; ``to_dict``/``from_dict`` make it JSON so it travels with the model."""

    schema: DatasetSchema
    means: dict[str, float]
    stds: dict[str, float]
    medians: dict[str, float] = field(default_factory=dict)
    missing_indicators: tuple[str, ...] = ()  # numeric features that had gaps in training
    target_scale: tuple[float, float] = (0.0, 1.0)  # regression: the training target's mean and std

    @classmethod
    def fit(cls, frame: pd.DataFrame, schema: DatasetSchema) -> TabularPreprocessor:
        check_columns(frame, schema)
        means, stds, medians, gaps = {}, {}, {}, []
        for spec in schema.numeric:
            values = _numbers(frame[spec.name], spec.name)
            known = values[~np.isnan(values)]
            if known.size == 0:
                raise DataError(
                    f"Feature '{spec.name}' has no values in the training rows.",
                    f"Exclude it (dataset.features.exclude: [{spec.name}]) or train on rows where it is filled.",
                )
            if known.size < values.size:
                gaps.append(spec.name)
            medians[spec.name] = float(np.median(known))
            means[spec.name] = float(known.mean())
            std = float(known.std())
            stds[spec.name] = std if std > 1e-12 else 1.0  # a constant column must not divide by zero
        scale = _target_scale(frame, schema) if schema.is_regression else (0.0, 1.0)
        return cls(schema, means, stds, medians, tuple(gaps), scale)

    def encode_target(self, values: np.ndarray) -> np.ndarray:
        """Regression: the target standardised with the training mean and std (what networks learn)."""
        mean, std = self.target_scale
        return ((np.asarray(values, np.float64) - mean) / std).astype(np.float32)

    def decode_target(self, standardised: np.ndarray) -> np.ndarray:
        """Regression: a network's standardised output back in the target's own units."""
        mean, std = self.target_scale
        return np.asarray(standardised, np.float64) * std + mean

    @property
    def n_outputs(self) -> int:
        """Inputs the network sees: 1 per numeric feature (+1 if it had gaps), categories + "other" per category."""
        widths = (1 if s.kind is FeatureKind.NUMERIC else len(s.categories) + 1 for s in self.schema.features)
        return sum(widths) + len(self.missing_indicators)

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """Encode ``frame`` into a float32 matrix in schema order (missing indicators last)."""
        check_columns(frame, self.schema)
        blocks: list[np.ndarray] = []
        gaps: dict[str, np.ndarray] = {}
        for spec in self.schema.features:
            column = frame[spec.name]
            if spec.kind is FeatureKind.NUMERIC:
                values = _numbers(column, spec.name)
                missing = np.isnan(values)
                if missing.any():
                    values = np.where(missing, self.medians.get(spec.name, self.means[spec.name]), values)
                gaps[spec.name] = missing
                blocks.append(((values - self.means[spec.name]) / self.stds[spec.name])[:, None])
            else:
                codes = column.astype(str).to_numpy()
                known = np.stack([codes == c for c in spec.categories], axis=1)
                other = ~known.any(axis=1) if spec.categories else np.ones(len(codes), bool)
                blocks.append(np.column_stack([known, other]).astype(np.float64))
        blocks += [gaps[name][:, None].astype(np.float64) for name in self.missing_indicators]
        return np.concatenate(blocks, axis=1).astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": self.schema.to_dict(),
            "means": self.means,
            "stds": self.stds,
            "medians": self.medians,
            "missing_indicators": list(self.missing_indicators),
            "target_scale": list(self.target_scale),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TabularPreprocessor:
        return cls(
            DatasetSchema.from_dict(data["schema"]),
            dict(data["means"]),
            dict(data["stds"]),
            dict(data.get("medians", {})),
            tuple(data.get("missing_indicators", ())),
            tuple(data.get("target_scale", (0.0, 1.0))),  # type: ignore[arg-type]
        )


def _target_scale(frame: pd.DataFrame, schema: DatasetSchema) -> tuple[float, float]:
    if schema.label not in frame.columns:
        return 0.0, 1.0
    y = _numbers(frame[schema.label], schema.label)
    y = y[np.isfinite(y)]
    if y.size == 0:
        raise DataError(f"The regression target '{schema.label}' has no values.", "Train on labelled rows.")
    std = float(y.std())
    return float(y.mean()), std if std > 1e-12 else 1.0


def _numbers(column: pd.Series, name: str) -> np.ndarray:
    """The column as float64 with NaN for gaps; text in a numeric feature is a DataError naming it."""
    try:
        return column.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError):
        bad = next((v for v in column if isinstance(v, str)), None)
        raise DataError(
            f"Numeric feature '{name}' holds non-numbers (e.g. {bad!r}).",
            "Send numbers for it, or declare it categorical (dataset.features.categorical).",
        ) from None
