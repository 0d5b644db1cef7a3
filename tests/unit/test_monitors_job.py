"""The drift job end to end with the in-memory engine: Parquet/JSON/models:/ references, files, MLflow, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from driftline.core.config_loader import load_config
from driftline.monitors.drift_job import main, run_drift_job


def _write(path: Path, n: int, seed: int, shift: float = 0.0, prior: float = 0.3, with_pred: bool = True) -> Path:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({f"x{i}": rng.normal(shift if i == 0 else 0, 1, n) for i in range(3)})
    df["region"] = rng.choice(["a", "b"], n)
    df["y"] = (rng.random(n) < prior).astype(np.int64)
    if with_pred:
        df["prediction"] = np.where(rng.random(n) < 0.9, df["y"], 1 - df["y"]).astype(np.int64)
    df.to_parquet(path)
    return path


def test_parquet_reference_is_profiled_on_the_fly(tmp_path: Path) -> None:
    ref = _write(tmp_path / "ref.parquet", 5_000, 0)
    cur = _write(tmp_path / "cur.parquet", 2_000, 1, shift=0.6, prior=0.6)
    rep = run_drift_job(ref, cur, tmp_path / "out", log_to_mlflow=False)
    assert (tmp_path / "out" / "report.html").is_file()
    assert json.loads((tmp_path / "out" / "report.json").read_text())["summary"] == rep["summary"]
    assert rep["summary"]["drifted_features"] == ["x0"]
    assert set(rep["features"]) == {"x0", "x1", "x2", "region"}  # y and prediction are not features
    ls = rep["label_shift"]
    assert ls["shift_detected"] and ls["prior_source"] == "observed" and ls["estimated_prior"] is not None
    assert ls["estimated_prior"]["1"] == pytest.approx(0.6, abs=0.05)  # BBSE from the reference's confusion
    assert rep["performance"]["baseline"] == pytest.approx(0.9, abs=0.02) and not rep["performance"]["decayed"]
    assert rep["timings"]["total_seconds"] > 0 and rep["timings"]["engine"] == "memory"


def test_profile_json_and_models_uri_references(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from driftline.monitors.drift_config import DriftConfig
    from driftline.monitors.drift_job import load_reference

    ref = _write(tmp_path / "ref.parquet", 3_000, 2)
    cfg = load_config(None, workdir=tmp_path / "wd")
    profile = load_reference(str(ref), cfg, DriftConfig(n_bins=200))
    (tmp_path / "p.json").write_text(profile.to_json())
    seen: list[str] = []

    def fake_load(uri: str, _cfg: object) -> str:
        seen.append(uri)
        return profile.to_json()

    import driftline.model.registry as registry

    monkeypatch.setattr(registry, "load_profile_json", fake_load)
    cur = _write(tmp_path / "cur.parquet", 1_000, 3)
    a = run_drift_job(str(tmp_path / "p.json"), cur, None, config=cfg, log_to_mlflow=False)
    b = run_drift_job("models:/driftline-model@champion", cur, None, config=cfg, log_to_mlflow=False)
    assert seen == ["models:/driftline-model@champion"]
    assert a["features"] == b["features"] and a["reference"]["n_bins"] == 200


def test_report_is_logged_to_mlflow(tmp_path: Path) -> None:
    import mlflow

    cfg = load_config(None, workdir=tmp_path / "wd")
    ref = _write(tmp_path / "ref.parquet", 2_000, 4)
    cur = _write(tmp_path / "cur.parquet", 1_000, 5, shift=1.0)
    rep = run_drift_job(ref, cur, tmp_path / "out", config=cfg)
    run = mlflow.MlflowClient(tracking_uri=cfg.tracking_uri).get_run(rep["mlflow"]["run_id"])
    assert run.info.run_name.startswith("drift-")
    assert run.data.metrics["drift.x0.drifted"] == 1.0 and run.data.metrics["drift.dataset_drift"] == 1.0
    files = {f.path for f in mlflow.MlflowClient(cfg.tracking_uri).list_artifacts(run.info.run_id, "drift_report")}
    assert files == {"drift_report/report.json", "drift_report/report.html"}


def test_cli_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ref = _write(tmp_path / "ref.parquet", 2_000, 6)
    cur = _write(tmp_path / "cur.parquet", 500, 17)
    args = ["--reference", str(ref), "--current", str(cur), "--out", str(tmp_path / "o"), "--no-mlflow"]
    assert main(args) == 0 and "dataset_drift=False" in capsys.readouterr().out
    bad = _write(tmp_path / "bad.parquet", 10, 8)
    pd.read_parquet(bad).drop(columns=["x1"]).to_parquet(bad)
    assert main([*args[:2], "--current", str(bad), *args[4:]]) == 2
    assert "lacks feature columns ['x1']" in capsys.readouterr().err
    assert main([*args, "--current", str(tmp_path / "nope")]) == 2


def test_labels_join_multi_row_requests_on_request_id_and_row(tmp_path: Path) -> None:
    """200 two-row requests on which the model is always right: accuracy 1.0 and no fake label shift."""
    ref = _write(tmp_path / "ref.parquet", 3_000, 9, prior=0.5)
    rng = np.random.default_rng(10)
    n = 200
    labels = np.tile([0, 1], n)  # row 0 is always class 0, row 1 class 1
    window = pd.DataFrame({f"x{i}": rng.normal(0, 1, 2 * n) for i in range(3)})
    window["region"] = rng.choice(["a", "b"], 2 * n)
    window["request_id"] = np.repeat([f"req-{i}" for i in range(n)], 2)
    window["row"] = np.tile([0, 1], n)
    window["role"] = "served"
    window["prediction"] = labels
    window.to_parquet(tmp_path / "window.parquet")
    feedback = window[["request_id", "row"]].assign(label=labels)
    feedback.to_parquet(tmp_path / "feedback.parquet")
    rep = run_drift_job(
        ref, tmp_path / "window.parquet", None, feedback=tmp_path / "feedback.parquet", log_to_mlflow=False
    )
    assert rep["window"]["labelled_rows"] == 2 * n
    assert rep["performance"]["current"] == 1.0
    assert rep["label_shift"]["observed_prior"] == {"0": 0.5, "1": 0.5}


def _hourly_log(root: Path, hours: int, rows_per_hour: int, seed: int) -> None:
    from driftline.serve_apps.prediction_log import PREDICTIONS, ParquetSink

    rng = np.random.default_rng(seed)
    sink = ParquetSink(root)
    t0 = 1767225600.0  # 2026-01-01T00:00:00Z
    for h in range(hours):
        records = [
            {
                "request_id": f"h{h}-{i}",
                "row": 0,
                "timestamp": t0 + h * 3600 + i,
                "role": "served",
                **{f"x{j}": float(rng.normal()) for j in range(3)},
                "region": str(rng.choice(["a", "b"])),
                "prediction": int(rng.random() < 0.3),
            }
            for i in range(rows_per_hour)
        ]
        sink.write(PREDICTIONS, records)


def test_a_torn_file_in_the_window_is_skipped_and_reported(tmp_path: Path) -> None:
    from driftline.serve_apps.prediction_log import PREDICTIONS, ParquetSink

    ref = _write(tmp_path / "ref.parquet", 2_000, 11)
    _hourly_log(tmp_path / "logs", hours=3, rows_per_hour=150, seed=12)
    ParquetSink(tmp_path / "logs").files(PREDICTIONS)[1].write_bytes(b"PAR1 not really")
    rep = run_drift_job(ref, tmp_path / "logs" / PREDICTIONS, None, log_to_mlflow=False)
    assert rep["window"]["skipped_files"] == 1 and rep["window"]["rows"] == 300


def test_a_window_reads_only_the_hour_partitions_it_needs(tmp_path: Path) -> None:
    from driftline.monitors.window_files import window_files
    from driftline.serve_apps.prediction_log import PREDICTIONS

    ref = _write(tmp_path / "ref.parquet", 2_000, 13)
    _hourly_log(tmp_path / "logs", hours=48, rows_per_hour=100, seed=14)
    log = tmp_path / "logs" / PREDICTIONS
    since, until = "2026-01-02T10:30:00Z", "2026-01-02T12:00:00Z"
    files = window_files(log, 1767349800_000000, 1767355200_000000)
    assert [Path(p).parent.name for p in files.paths] == ["hour=10", "hour=11"]
    rep = run_drift_job(ref, log, None, since=since, until=until, log_to_mlflow=False)
    assert rep["window"]["rows"] == 100  # hour 11's rows; hour 10's (10:00:00-10:01:39) are before `since`


def test_huge_finite_values_are_left_out_like_inf(tmp_path: Path) -> None:
    """3 rows of 1e300 in a 5,000-row window: counted as inf, left out, and the report is written."""
    ref = _write(tmp_path / "ref.parquet", 5_000, 15)
    cur = _write(tmp_path / "cur.parquet", 5_000, 16)
    frame = pd.read_parquet(cur)
    frame.loc[:2, "x1"] = 1e300
    frame.to_parquet(cur)
    rep = run_drift_job(ref, cur, tmp_path / "out", log_to_mlflow=False)
    assert rep["features"]["x1"]["stats"]["current"]["inf"] == 3
    assert not rep["features"]["x1"]["drifted"]

    def no_constants(name: str) -> None:
        raise AssertionError(f"report.json holds {name}")

    json.loads((tmp_path / "out" / "report.json").read_text(), parse_constant=no_constants)  # strict JSON
