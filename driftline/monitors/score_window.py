"""Score a labelled table the model never answered: the drift job's way to judge performance on a file of the
user's (rows with features and labels, but no ``prediction`` column), by predicting it with the reference model.

A prediction log already has its predictions (and is never re-scored); a user's table of late labels usually does
not. Scored in memory, written to a temporary Parquet file the engines then read like any window.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from driftline.core.config import DriftlineConfig
from driftline.monitors.profile import ReferenceProfile
from driftline.monitors.window import PREDICTION, PROBABILITIES, open_dataset

__all__ = ["needs_scoring", "score_window"]


def needs_scoring(current: str, reference: object, profile: ReferenceProfile) -> bool:
    """A model reference, and a window with the label and every feature but no predictions."""
    if not isinstance(reference, str) or not reference.startswith("models:/"):
        return False
    try:
        names = set(open_dataset(current).schema.names)
    except Exception:  # unreadable here: the engines report it with their own message
        return False
    wanted = {*profile.schema.feature_names, profile.schema.label}
    return PREDICTION not in names and wanted <= names


def score_window(current: str, model_uri: str, cfg: DriftlineConfig, out_dir: Path) -> Path:
    """Predict every row of ``current`` with ``model_uri``; a Parquet copy with ``prediction`` (and, for a
    classifier, ``probabilities``) columns in ``out_dir``."""
    from driftline.model.registry import ModelRegistry

    bundle, _ = ModelRegistry(cfg).load_bundle(model_uri)
    table = open_dataset(current).to_table()
    frame = table.to_pandas()
    network = bundle.predictor()
    if bundle.is_regression:
        table = table.append_column(PREDICTION, pa.array(bundle.predict_values(frame, network), pa.float64()))
    else:
        proba = bundle.predict_proba(frame, network)
        classes = list(bundle.classes)
        table = table.append_column(PREDICTION, pa.array([classes[i] for i in proba.argmax(axis=1)]))
        table = table.append_column(PROBABILITIES, pa.array(list(proba), pa.list_(pa.float64())))
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "scored.parquet"
    pq.write_table(table, path)
    return path
