"""The retrain's data: the labelled window, its split into new rows and a recent holdout, replay from older rows,
and the performance baseline the candidate is later judged against.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from driftline.core.errors import DataError
from driftline.datasets.schema import DatasetSchema
from driftline.datasets.table import read_table
from driftline.model.bundle import ModelBundle
from driftline.model.registry import ModelRegistry
from driftline.train_jobs.evaluate import Evaluation
from driftline.train_jobs.gates import ERROR_METRICS
from driftline.train_jobs.local_executor import encode_labels
from driftline.train_jobs.replay import Reservoir, mix_replay, split_pool
from driftline.train_jobs.retrain_config import RetrainConfig

__all__ = [
    "baseline_before_shift",
    "describe_window",
    "labelled_rows",
    "load_window",
    "parent_baseline",
    "split_window",
]


def load_window(source: str | Path | pd.DataFrame) -> pd.DataFrame:
    """A DataFrame as-is, or a Parquet/CSV file, folder or glob read into one (in file order)."""
    if isinstance(source, pd.DataFrame):
        return source.reset_index(drop=True)
    return read_table(str(source)).to_pandas()


def describe_window(frame: pd.DataFrame, schema: DatasetSchema) -> str:
    ts = schema.timestamp
    if ts and ts in frame.columns and len(frame):
        first, last = pd.Timestamp(frame[ts].min()).isoformat(), pd.Timestamp(frame[ts].max()).isoformat()
        return f"{first}/{last} ({len(frame)} rows)"
    return f"{len(frame)} rows"


def _older_pools(older: pd.DataFrame | None, rcfg: RetrainConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(replay rows, older holdout) from a seeded reservoir over ``older``; empty frames without older data."""
    if older is None or len(older) == 0:
        empty = pd.DataFrame()
        return empty, empty
    pool = Reservoir(rcfg.replay.pool_size, rcfg.replay.seed).add(older).sample()
    return split_pool(pool, rcfg.replay.holdout_fraction, rcfg.replay.seed)


def labelled_rows(frame: pd.DataFrame, schema: DatasetSchema) -> pd.DataFrame:
    if schema.label not in frame.columns:
        raise DataError(f"The window has no label column {schema.label!r}.", "Retrain on labelled rows only.")
    return frame[frame[schema.label].notna()].reset_index(drop=True)


def split_window(
    rcfg: RetrainConfig, champion: ModelBundle, labelled: pd.DataFrame, older: pd.DataFrame | None
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(new rows to learn from, recent holdout, training rows with replay mixed in, older holdout)."""
    label = champion.preprocessor.schema.label
    encode_labels(labelled, champion)  # a class the champion does not know is a DataError, before any training
    cut = int(len(labelled) * (1 - rcfg.gates.holdout_fraction))
    new_train, recent = labelled.iloc[:cut].reset_index(drop=True), labelled.iloc[cut:].reset_index(drop=True)
    if older is not None and len(older) and label in older.columns:
        older = older[older[label].notna()]
        encode_labels(older, champion)
    replay_pool, older_holdout = _older_pools(older, rcfg)
    train = (
        mix_replay(new_train, replay_pool, rcfg.replay.fraction, rcfg.replay.seed) if len(replay_pool) else new_train
    )
    return new_train, recent, train, older_holdout


def baseline_before_shift(
    registry: ModelRegistry, parent: str, holdout: Evaluation, trained_rows: int
) -> dict[str, float]:
    """The performance level a candidate is later judged against: the best of its parent's baseline (the level the
    task reached before the shift) and its own holdout score (accuracy, or RMSE and MAE for regression), never a low
    estimate from a few post-change rows. ``trained_rows`` is kept so the policy can refresh a retrain that learnt
    from few rows."""
    before = parent_baseline(registry, parent)
    own = holdout.baseline()
    metric = holdout.metric
    best = min if metric in ERROR_METRICS else max
    level = best(float(before.get(metric, own[metric])), own[metric])
    chosen = own if level == own[metric] else {k: float(v) for k, v in before.items() if k in own}
    if "n" not in chosen:
        chosen["n"] = 0.0
    return {**own, **chosen, "trained_rows": float(trained_rows)}


def parent_baseline(registry: ModelRegistry, parent: str) -> dict[str, float]:
    """The level the parent version reached (its reference profile's baseline: accuracy, or RMSE and MAE)."""
    from driftline.monitors.profile import ReferenceProfile

    return dict(ReferenceProfile.from_json(registry.load_profile_json(parent)).baseline)
