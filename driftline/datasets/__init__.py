"""Data driftline trains and tests on: seeded synthetic streams with known shifts, and the real Elec2 stream."""

from __future__ import annotations

import pandas as pd

from driftline.core.config import DataConfig, DataSource
from driftline.datasets.elec2 import ELEC2_SCHEMA, load_elec2
from driftline.datasets.schema import DatasetSchema, FeatureKind, FeatureSpec
from driftline.datasets.synthetic import SCENARIOS, SYNTHETIC_SCHEMA, GroundTruth, generate_stream

__all__ = [
    "ELEC2_SCHEMA",
    "SCENARIOS",
    "SYNTHETIC_SCHEMA",
    "DatasetSchema",
    "FeatureKind",
    "FeatureSpec",
    "GroundTruth",
    "generate_stream",
    "load_elec2",
    "load_stream",
]


def load_stream(data: DataConfig) -> tuple[pd.DataFrame, DatasetSchema]:
    """The configured stream in time order, with its schema."""
    if data.source is DataSource.ELEC2:
        return load_elec2(data.resolved_elec2_path()), ELEC2_SCHEMA
    frame, _ = generate_stream(data.scenario, n_rows=data.n_rows, seed=data.seed)
    return frame, SYNTHETIC_SCHEMA
