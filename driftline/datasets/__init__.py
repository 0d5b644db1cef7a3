"""Data driftline trains and tests on: the user's own table, seeded synthetic streams with known shifts, Elec2."""

from __future__ import annotations

import pandas as pd

from driftline.core.config import DataConfig, DatasetConfig, DataSource, DriftlineConfig
from driftline.datasets.elec2 import ELEC2_SCHEMA, load_elec2
from driftline.datasets.inference import InferredTable, infer_table
from driftline.datasets.schema import DatasetSchema, FeatureKind, FeatureSpec
from driftline.datasets.synthetic import SCENARIOS, SYNTHETIC_SCHEMA, GroundTruth, generate_stream
from driftline.datasets.table import read_table

__all__ = [
    "ELEC2_SCHEMA",
    "SCENARIOS",
    "SYNTHETIC_SCHEMA",
    "DatasetSchema",
    "FeatureKind",
    "FeatureSpec",
    "GroundTruth",
    "InferredTable",
    "generate_stream",
    "infer_table",
    "load_dataset",
    "load_elec2",
    "load_stream",
    "load_training_data",
    "read_table",
]


def load_stream(data: DataConfig) -> tuple[pd.DataFrame, DatasetSchema]:
    """The configured stream in time order, with its schema."""
    if data.source is DataSource.ELEC2:
        return load_elec2(data.resolved_elec2_path()), ELEC2_SCHEMA
    frame, _ = generate_stream(data.scenario, n_rows=data.n_rows, seed=data.seed)
    return frame, SYNTHETIC_SCHEMA


def load_dataset(dataset: DatasetConfig) -> InferredTable:
    """The user's table in time order, with its inferred schema, task and the reasoning behind them."""
    return infer_table(read_table(dataset.path, sort_by=dataset.timestamp), dataset)


def load_training_data(cfg: DriftlineConfig) -> tuple[pd.DataFrame, DatasetSchema]:
    """What every command trains and replays on: ``dataset`` (the user's table) when set, else ``data``."""
    if cfg.dataset is None:
        return load_stream(cfg.data)
    inferred = load_dataset(cfg.dataset)
    return inferred.frame, inferred.schema
