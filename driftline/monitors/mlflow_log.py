"""Log a drift report to MLflow: headline metrics, per-feature statistics, and the JSON/HTML files as artifacts.

The run goes to experiment ``cfg.mlflow.experiment`` under the name ``drift-<UTC timestamp>``.

>>> metric_name("x0", "ks")
'drift.x0.ks'
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from driftline.core.config import DriftlineConfig

__all__ = ["log_report", "metric_name", "report_metrics"]


def metric_name(*parts: str) -> str:
    """MLflow allows letters, digits, ``_ - . /`` and spaces in metric names: replace anything else."""
    return "drift." + ".".join(re.sub(r"[^A-Za-z0-9_\-/ ]", "_", p) for p in parts)


def report_metrics(report: dict[str, Any]) -> dict[str, float]:
    s = report["summary"]
    out = {
        "drift.share_drifted": float(s["share_drifted"]),
        "drift.dataset_drift": float(s["dataset_drift"]),
        "drift.n_drifted": float(len(s["drifted_features"])),
        "drift.label_shift": float(s["label_shift"]),
        "drift.performance_decay": float(s["performance_decay"]),
        "drift.window_rows": float(report["window"]["rows"]),
    }
    for name, f in report["features"].items():
        out[metric_name(name, "drifted")] = float(f["drifted"])
        for test, r in f["tests"].items():
            out[metric_name(name, test)] = float(r["statistic"])
    ls = report["label_shift"]
    if ls.get("total_variation") is not None:
        out["drift.label_shift_tv"] = float(ls["total_variation"])
    perf = report.get("performance")
    if perf and perf.get("current") is not None:
        out[f"drift.{perf['metric']}"] = float(perf["current"])
        out[f"drift.{perf['metric']}_p_value"] = float(perf["p_value"])
    estimated = ((perf or {}).get("estimated") or {}).get("accuracy") or {}
    if estimated.get("value") is not None:
        out["drift.estimated_accuracy"] = float(estimated["value"])
    return out


def log_report(report: dict[str, Any], cfg: DriftlineConfig, write_files: Callable[[dict[str, Any]], Path]) -> str:
    """Start the run, let ``write_files`` write the report (now carrying the run id) and log it; return the id."""
    from driftline.model.registry import ModelRegistry

    def write(run_id: str) -> Path:
        report["mlflow"] = {"run_id": run_id, "experiment": cfg.mlflow.experiment}
        return write_files(report)

    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    tags = {"driftline.kind": "drift", "driftline.reference": str(report["reference"]["source"])}
    return ModelRegistry(cfg).log_run(f"drift-{stamp}", write, lambda: report_metrics(report), tags, "drift_report")
