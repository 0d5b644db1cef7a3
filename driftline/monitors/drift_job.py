"""The drift job: reference (profile or Parquet) vs a Parquet window -> report.json, report.html, an MLflow run.

Run it directly, on a cluster, or through the CLI::

    python -m driftline.monitors.drift_job --reference models:/driftline-model@champion \\
        --current .driftline/predictions --feedback .driftline/feedback --out reports/today --engine ray
    ray job submit --working-dir . -- python -m driftline.monitors.drift_job --reference ref.parquet ...

A Parquet ``--reference`` is profiled on the fly (in memory: it is training data). Its schema comes from the drift
config's ``schema:`` section, else it is inferred: float/integer columns are numeric, string/dictionary/bool
columns categorical, a column named ``label`` or ``y`` is the label (classes = its distinct values), and the
prediction-log columns (request_id, timestamp, prediction, ...) are never features. If the reference has both a
label and a ``prediction`` column its confusion matrix and accuracy become the BBSE input and the baseline.

A ``models:/`` reference and a window with the features and the label but no ``prediction`` column (a table of the
user's, labels included) is first scored with that model (``score_window.py``, memory engine only), so the report
judges performance on it; ``window.scored_by`` names the model.

>>> import inspect
>>> list(inspect.signature(run_drift_job).parameters)[:3]
['reference', 'current', 'out']
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.compute as pc

from driftline.core.config import DriftlineConfig
from driftline.core.config_loader import load_config, load_yaml_model
from driftline.core.errors import ConfigError, DataError, DriftlineError
from driftline.monitors.columns import class_index
from driftline.monitors.drift_config import DriftConfig
from driftline.monitors.feedback_join import open_feedback
from driftline.monitors.profile import ReferenceProfile, infer_schema
from driftline.monitors.profile_parquet import profile_from_dataset
from driftline.monitors.report import build_report
from driftline.monitors.report_html import render_html
from driftline.monitors.score_window import needs_scoring, score_window
from driftline.monitors.summaries import WindowSummary
from driftline.monitors.window import PREDICTION, open_dataset

__all__ = ["ENGINES", "load_reference", "main", "run_drift_job"]

ENGINES = ("memory", "ray")


def _profile_from_parquet(path: str, drift_cfg: DriftConfig) -> ReferenceProfile:
    """Profile a Parquet reference a group of columns at a time (a wide table is never whole in memory)."""
    dataset = open_dataset(path)
    names = dataset.schema.names
    schema = drift_cfg.schema_.to_schema() if drift_cfg.schema_ is not None else infer_schema(dataset.schema)
    label = schema.label if schema.label in names else None
    outputs = dataset.to_table(columns=[c for c in (label, PREDICTION) if c is not None and c in names])
    classes = schema.classes
    if not classes:
        source = label or (PREDICTION if PREDICTION in names else None)
        if source is not None:
            values = pc.unique(pc.drop_null(outputs.column(source))).to_pylist()
            try:
                classes = tuple(sorted(values))
            except TypeError:
                raise DataError(
                    f"Label column '{source}' of {path} mixes value types (e.g. {values[:3]}).",
                    "Give the label one type (all strings or all numbers), or name the classes in the drift config.",
                ) from None
    schema = replace(schema, classes=classes)
    cm, baseline = None, None
    if label is not None and PREDICTION in names and classes:
        y = class_index(outputs.column(label), classes, label)
        p = class_index(outputs.column(PREDICTION), classes, PREDICTION)
        ok = (y >= 0) & (p >= 0)
        k = len(classes)
        cm = np.bincount(y[ok] * k + p[ok], minlength=k * k).reshape(k, k)
        if ok.any():
            baseline = {"accuracy": float(np.trace(cm) / ok.sum()), "n": float(ok.sum())}
    return profile_from_dataset(
        dataset, schema, confusion_matrix=cm, baseline=baseline, n_bins=drift_cfg.n_bins, source=str(path)
    )


def load_reference(reference: str | Path, cfg: DriftlineConfig, drift_cfg: DriftConfig) -> ReferenceProfile:
    """A profile from ``models:/NAME@ALIAS`` (stored with the model), a profile ``.json`` file, or Parquet."""
    ref = str(reference)
    if ref.startswith("models:/"):
        from driftline.model.registry import load_profile_json  # lazy: MLflow only when a model is named

        return ReferenceProfile.from_json(load_profile_json(ref, cfg))
    if ref.endswith(".json"):
        path = Path(ref)
        if not path.is_file():
            raise DataError(f"No reference profile at {ref}.", "Pass an existing profile JSON, Parquet or models:/.")
        return ReferenceProfile.from_json(path.read_text())
    return _profile_from_parquet(ref, drift_cfg)


def _summarize(engine: str, current: str, profile: ReferenceProfile, cfg: DriftlineConfig, **kw: Any) -> WindowSummary:
    if engine == "memory":
        from driftline.monitors.engine_memory import summarize_parquet

        return summarize_parquet(current, profile, **kw)
    from driftline.core.ray_runtime import ensure_ray
    from driftline.monitors.engine_ray import summarize_parquet_ray

    ensure_ray(cfg)
    return summarize_parquet_ray(current, profile, **kw)


def _write(report: dict[str, Any], out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=2, allow_nan=False))
    (out / "report.html").write_text(render_html(report))
    return out


def run_drift_job(
    reference: str | Path | ReferenceProfile,
    current: str | Path,
    out: str | Path | None = None,
    *,
    config: str | Path | DriftlineConfig | None = None,
    drift_config: str | Path | DriftConfig | None = None,
    feedback: str | Path | None = None,
    engine: str = "memory",
    since: str | datetime | None = None,
    until: str | datetime | None = None,
    log_to_mlflow: bool = True,
) -> dict[str, Any]:
    """Build the drift report of ``current`` against ``reference``; write it under ``out`` and log it to MLflow.

    Returns the report dict (REPORT_SCHEMA.md). ``out=None`` writes nothing locally (MLflow still gets the files
    when ``log_to_mlflow``, via a temporary folder).
    """
    t0 = time.perf_counter()
    if engine not in ENGINES:
        raise ConfigError("--engine", "engine", engine, f"one of {', '.join(ENGINES)}")
    cfg = config if isinstance(config, DriftlineConfig) else load_config(config)
    if isinstance(drift_config, DriftConfig):
        dcfg = drift_config
    else:
        dcfg = DriftConfig() if drift_config is None else load_yaml_model(drift_config, DriftConfig)
    if isinstance(reference, ReferenceProfile):
        profile, source = reference, reference.source or "profile"
    else:
        profile, source = load_reference(reference, cfg, dcfg), str(reference)
    t1 = time.perf_counter()
    fb = None if feedback is None else open_feedback(feedback, since, max_label_delay_hours=dcfg.max_label_delay_hours)
    with tempfile.TemporaryDirectory() as scratch:
        window, scored_by = str(current), None
        # A labelled table the model never answered, small enough for the memory engine: score it here. The Ray
        # engine reads a window as it is (its blocks stay on the cluster; score big tables with a batch job first).
        if fb is None and engine == "memory" and needs_scoring(window, reference, profile):
            window, scored_by = str(score_window(window, str(reference), cfg, Path(scratch))), str(reference)
        summary = _summarize(engine, window, profile, cfg, since=since, until=until, feedback=fb)
    t2 = time.perf_counter()
    timings = {"reference_seconds": t1 - t0, "summary_seconds": t2 - t1}
    report = build_report(profile, summary, dcfg, reference_source=source, timings=timings)
    report["window"]["scored_by"] = scored_by
    t3 = time.perf_counter()
    report["timings"].update(kernel_seconds=t3 - t2, total_seconds=t3 - t0, engine=engine)
    if log_to_mlflow:
        from driftline.monitors.mlflow_log import log_report

        if out is None:
            with tempfile.TemporaryDirectory() as tmp:
                log_report(report, cfg, lambda r: _write(r, Path(tmp)))
        else:
            log_report(report, cfg, lambda r: _write(r, Path(out)))
    elif out is not None:
        _write(report, Path(out))
    return report


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m driftline.monitors.drift_job", description=__doc__.split("\n")[0])
    p.add_argument("--config", help="driftline config YAML (default: embedded defaults)")
    p.add_argument("--drift-config", help="drift config YAML (configs/drift.yaml; default: embedded defaults)")
    p.add_argument("--reference", required=True, help="models:/NAME@ALIAS, a profile .json, or a Parquet path")
    p.add_argument("--current", required=True, help="Parquet window: prediction log root or any Parquet dataset")
    p.add_argument("--feedback", help="feedback log (Parquet with request_id, label) joined on request_id")
    p.add_argument("--out", required=True, help="output folder for report.json and report.html")
    p.add_argument("--engine", choices=ENGINES, default="memory", help="memory (numpy) or ray (Ray Data)")
    p.add_argument("--since", help="keep rows with timestamp >= this ISO time (UTC if naive)")
    p.add_argument("--until", help="keep rows with timestamp < this ISO time")
    p.add_argument("--no-mlflow", action="store_true", help="do not log the report to MLflow")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        report = run_drift_job(
            args.reference,
            args.current,
            args.out,
            config=args.config,
            drift_config=args.drift_config,
            feedback=args.feedback,
            engine=args.engine,
            since=args.since,
            until=args.until,
            log_to_mlflow=not args.no_mlflow,
        )
    except DriftlineError as exc:
        print(f"drift job failed: {exc}", file=sys.stderr)
        return 2
    s = report["summary"]
    print(
        f"window rows={report['window']['rows']} drifted={s['drifted_features']} dataset_drift={s['dataset_drift']} "
        f"label_shift={s['label_shift']} performance_decay={s['performance_decay']} -> {Path(args.out) / 'report.html'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
