"""The real collaborators of the control loop: the drift job, the labelled logs, the retrain and re-weight jobs.

Each satisfies one Protocol of :mod:`driftline.platform.control_loop`, so the loop's own logic runs in unit tests
with tiny fakes and here with Ray, MLflow and the Parquet logs.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from driftline.core.config import DriftlineConfig
from driftline.core.errors import DataError
from driftline.core.paths import feedback_dir, logs_dir, predictions_dir

__all__ = ["DriftJobAnalyst", "LogLabels", "TrainJobs"]


class DriftJobAnalyst:
    """Runs the drift job on the served predictions between two times, against the champion's profile."""

    def __init__(self, cfg: DriftlineConfig, drift_file: Path | None, min_window_rows: int) -> None:
        self.cfg, self.drift_file, self.min_window_rows = cfg, drift_file, min_window_rows

    def analyse(self, since: float | None, until: float) -> dict[str, Any] | None:
        from driftline.model.registry import alias_uri
        from driftline.monitors.drift_job import run_drift_job

        predictions, feedback = predictions_dir(self.cfg.workdir_path), feedback_dir(self.cfg.workdir_path)
        if not predictions.exists():
            return None
        try:
            report = run_drift_job(
                alias_uri(self.cfg.mlflow.model_name),
                predictions,
                config=self.cfg,
                drift_config=self.drift_file,
                feedback=feedback if feedback.exists() else None,
                since=None if since is None else datetime.fromtimestamp(since, tz=timezone.utc),
                until=datetime.fromtimestamp(until, tz=timezone.utc),
                log_to_mlflow=True,
            )
        except DataError:
            return None  # an empty window: wait for traffic
        return report if report["window"]["rows"] >= self.min_window_rows else None


class LogLabels:
    """Served predictions joined with their labels on (request_id, row), in time order."""

    def __init__(self, cfg: DriftlineConfig) -> None:
        self.cfg = cfg

    def rows(self) -> pd.DataFrame:
        from driftline.serve_apps.prediction_log import FEEDBACK, PREDICTIONS, ParquetSink

        sink = ParquetSink(logs_dir(self.cfg.workdir_path))
        served = sink.read(PREDICTIONS)
        labels = sink.read(FEEDBACK, columns=["request_id", "row", "label"])
        if served.empty or labels.empty:
            return pd.DataFrame()
        served = served[served["role"] == "served"]
        joined = served.merge(labels.drop_duplicates(["request_id", "row"]), on=["request_id", "row"])
        return joined.sort_values("timestamp").reset_index(drop=True)

    def label_column(self) -> str:
        from driftline.model.registry import ModelRegistry

        registry = ModelRegistry(self.cfg)
        bundle, _ = registry.load_bundle(registry.champion_uri)
        return str(bundle.preprocessor.schema.label)


class TrainJobs:
    """Retrain (Ray Train, warm start, replay, gates) and re-weight, both registering through one candidate path."""

    def __init__(self, cfg: DriftlineConfig, retrain_file: Path | None, reweight_margin: float) -> None:
        self.cfg, self.retrain_file, self.reweight_margin = cfg, retrain_file, reweight_margin

    def retrain(self, window: pd.DataFrame, older: pd.DataFrame | None, trigger: str, data_window: str) -> Any:
        from driftline.core.config_loader import load_yaml_model
        from driftline.train_jobs.retrain import run_retrain
        from driftline.train_jobs.retrain_config import RetrainConfig

        rcfg = load_yaml_model(self.retrain_file, RetrainConfig) if self.retrain_file else RetrainConfig()
        return run_retrain(self.cfg, rcfg, window, older=older, trigger=trigger, data_window=data_window)

    def reweight(self, class_weights: Mapping[str, float], rows: pd.DataFrame) -> Any:
        from driftline.train_jobs.reweight import reweight_champion

        return reweight_champion(self.cfg, class_weights, rows, self.reweight_margin)
