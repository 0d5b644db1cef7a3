"""Tabular preprocessing saved with the model: standard scaling for numeric features, one-hot for categories.

Unknown categories map to an all-zero block (the model sees "none of the known values"), never to an error, so a
new category in production degrades gracefully and shows up in drift reports instead.

>>> import pandas as pd
>>> from driftline.datasets.synthetic import SYNTHETIC_SCHEMA, generate_stream
>>> frame, _ = generate_stream("stationary", 200, seed=0)
>>> pre = TabularPreprocessor.fit(frame, SYNTHETIC_SCHEMA)
>>> pre.transform(frame).shape
(200, 8)
"""

from __future__ import annotations

from dataclasses import dataclass
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

    @classmethod
    def fit(cls, frame: pd.DataFrame, schema: DatasetSchema) -> TabularPreprocessor:
        check_columns(frame, schema)
        means, stds = {}, {}
        for spec in schema.numeric:
            values = frame[spec.name].to_numpy(dtype=np.float64)
            means[spec.name] = float(values.mean())
            std = float(values.std())
            stds[spec.name] = std if std > 1e-12 else 1.0  # a constant column must not divide by zero
        return cls(schema=schema, means=means, stds=stds)

    @property
    def n_outputs(self) -> int:
        return sum(1 if s.kind is FeatureKind.NUMERIC else len(s.categories) for s in self.schema.features)

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """Encode ``frame`` into a float32 matrix in schema order."""
        check_columns(frame, self.schema)
        blocks: list[np.ndarray] = []
        for spec in self.schema.features:
            column = frame[spec.name]
            if spec.kind is FeatureKind.NUMERIC:
                values = column.to_numpy(dtype=np.float64)
                blocks.append(((values - self.means[spec.name]) / self.stds[spec.name])[:, None])
            else:
                codes = column.astype(str).to_numpy()
                blocks.append(np.stack([codes == c for c in spec.categories], axis=1).astype(np.float64))
        return np.concatenate(blocks, axis=1).astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        return {"schema": self.schema.to_dict(), "means": self.means, "stds": self.stds}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TabularPreprocessor:
        return cls(DatasetSchema.from_dict(data["schema"]), dict(data["means"]), dict(data["stds"]))
