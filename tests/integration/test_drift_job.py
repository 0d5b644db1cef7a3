"""The Ray Data engine against the in-memory engine on a hive-partitioned prediction log (real local Ray)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from driftline.core.config_loader import load_config
from driftline.core.errors import DataError
from driftline.datasets.schema import DatasetSchema, FeatureKind, FeatureSpec
from driftline.monitors.drift_config import DriftConfig
from driftline.monitors.drift_job import run_drift_job
from driftline.monitors.engine_memory import summarize_parquet
from driftline.monitors.engine_ray import summarize_parquet_ray
from driftline.monitors.estimation.window_estimate import fit_reference_estimators
from driftline.monitors.feedback_join import open_feedback
from driftline.monitors.profile import ReferenceProfile, build_reference_profile
from driftline.monitors.report import build_report

pytestmark = pytest.mark.integration

SCHEMA = DatasetSchema(
    (*(FeatureSpec(f"x{i}", FeatureKind.NUMERIC) for i in range(5)), FeatureSpec("region", FeatureKind.CATEGORICAL)),
    label="y",
    classes=(0, 1),
)
T0 = datetime(2024, 5, 1, tzinfo=timezone.utc)


def _frame(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    d = {f"x{i}": rng.normal(shift if i < 2 else 0.0, 1 + i, n) * 10**i for i in range(5)}
    d["region"] = rng.choice(["n", "s", "e", "w"], n, p=[0.4, 0.3, 0.2, 0.1])
    d["y"] = (rng.random(n) < 0.3).astype(np.int64)
    return pd.DataFrame(d)


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, ReferenceProfile]:
    root = tmp_path_factory.mktemp("logs")
    ref = _frame(20_000, 0)
    profile = build_reference_profile(ref, SCHEMA, confusion_matrix=np.array([[12000, 2000], [1500, 4500]]),
                                      baseline={"accuracy": 0.825, "n": 20000})  # fmt: skip
    # The model's validation scores and labels fit the label-free estimators the profile carries.
    valid = np.random.default_rng(5).random(4000)
    profile.estimation = fit_reference_estimators(
        np.c_[1 - valid, valid], (np.random.default_rng(6).random(4000) < valid).astype(int)
    )
    n = 60_000
    scores = np.random.default_rng(7).random(n) ** 0.7
    cur = _frame(n, 1, shift=0.8)
    cur.loc[:50, "x2"] = np.nan
    cur.loc[51:60, "x3"] = np.inf
    rng = np.random.default_rng(2)
    log = cur.drop(columns="y").assign(
        request_id=[f"q{i}" for i in range(n)],
        timestamp=pd.to_datetime([T0 + timedelta(seconds=i) for i in range(n)], utc=True),
        model_name="m", model_version="3", variant=np.where(np.arange(n) % 7 == 0, "candidate", "champion"),
        role=np.where(np.arange(n) % 7 == 0, "shadow", "served"),
        prediction=np.where(rng.random(n) < 0.8, cur["y"], 1 - cur["y"]).astype(np.int64),
        probabilities=list(np.c_[1 - scores, scores]), latency_ms=rng.exponential(5.0, n),
    )  # fmt: skip
    for hour, part in log.groupby(log["timestamp"].dt.hour):
        folder = root / "pred" / "dt=2024-05-01" / f"hour={hour:02d}"
        folder.mkdir(parents=True)
        bounds = np.linspace(0, len(part), 4).astype(int)
        for j in range(3):  # several files and blocks per hour
            chunk = part.iloc[bounds[j] : bounds[j + 1]]
            t = pa.Table.from_pandas(chunk, preserve_index=False)
            t = t.set_column(t.schema.get_field_index("timestamp"), "timestamp",
                             t.column("timestamp").cast(pa.timestamp("us", tz="UTC")))  # fmt: skip
            pq.write_table(t, folder / f"part-{j}.parquet")
    fb = pd.DataFrame({"request_id": log["request_id"][::3], "label": cur["y"][::3],
                       "timestamp": log["timestamp"][::3]})  # fmt: skip
    pq.write_table(pa.Table.from_pandas(fb, preserve_index=False), root / "feedback.parquet")
    return root / "pred", root / "feedback.parquet", profile


def _numbers(report: dict) -> dict[str, float]:  # type: ignore[type-arg]
    out = {}
    for name, f in report["features"].items():
        for test, r in f["tests"].items():
            out[f"{name}.{test}.stat"] = r["statistic"]
            out[f"{name}.{test}.p"] = r["p_value"] if r["p_value"] is not None else -1.0
    for key in ("observed_prior", "predicted_prior", "estimated_prior"):
        for c, v in (report["label_shift"][key] or {}).items():
            out[f"{key}.{c}"] = v
    out["accuracy"] = report["performance"]["current"]
    estimated = report["performance"]["estimated"]
    for key in ("accuracy", "atc", "f1", "roc_auc"):
        out[f"estimated.{key}"] = estimated[key]["value"]
        out[f"estimated.{key}.ci_high"] = estimated[key]["ci_high"]
    return out


def test_ray_and_memory_engines_agree(ray_session: None, logs: tuple[Path, Path, ReferenceProfile]) -> None:
    pred, feedback_path, profile = logs
    fb = open_feedback(feedback_path)
    kw = {"feedback": fb, "since": T0 + timedelta(seconds=100), "until": T0 + timedelta(hours=16)}
    mem = summarize_parquet(pred, profile, **kw)
    ray_ = summarize_parquet_ray(pred, profile, **kw)
    assert ray_.rows == mem.rows > 40_000
    for name in mem.numeric:
        a, b = mem.numeric[name], ray_.numeric[name]
        np.testing.assert_array_equal(a.counts, b.counts)
        np.testing.assert_allclose(b.sums, a.sums, rtol=1e-9, atol=1e-9)
        assert (a.n_nan, a.n_inf, a.min, a.max) == (b.n_nan, b.n_inf, b.min, b.max)
    assert mem.categorical == ray_.categorical
    np.testing.assert_array_equal(mem.labels.joint, ray_.labels.joint)
    assert (mem.ts_min, mem.ts_max) == (ray_.ts_min, ray_.ts_max)
    np.testing.assert_array_equal(mem.scores, ray_.scores)  # the label-free estimates' histogram
    assert mem.scores.sum() == mem.rows
    cfg = DriftConfig()
    rm, rr = build_report(profile, mem, cfg), build_report(profile, ray_, cfg)
    a, b = _numbers(rm), _numbers(rr)
    assert a.keys() == b.keys() and len(a) > 30
    for key in a:
        assert b[key] == pytest.approx(a[key], rel=1e-9, abs=1e-9), key
    assert rm["summary"] == rr["summary"]
    assert rr["summary"]["drifted_features"] == ["x0", "x1"]
    # The joint-drift samples are drawn per block (2,000 rows, bottom-k): same size, not the same rows.
    assert mem.sample.rows == ray_.sample.rows == 2000
    assert rm["joint_drift"]["drifted"] and rr["joint_drift"]["drifted"]
    assert {t["feature"] for t in rr["joint_drift"]["top_features"][:2]} & {"x0", "x1"}


def test_drift_job_with_ray_engine_writes_report(ray_session: None, logs: tuple[Path, Path, ReferenceProfile],
                                                 tmp_path: Path) -> None:  # fmt: skip
    pred, feedback_path, profile = logs
    (tmp_path / "profile.json").write_text(profile.to_json())
    cfg = load_config(None, workdir=tmp_path / "wd")
    rep = run_drift_job(tmp_path / "profile.json", pred, tmp_path / "out", config=cfg, feedback=feedback_path,
                        engine="ray")  # fmt: skip
    assert (tmp_path / "out" / "report.html").stat().st_size > 5_000
    assert rep["timings"]["engine"] == "ray" and rep["mlflow"]["run_id"]
    assert rep["window"]["labelled_rows"] == pytest.approx(rep["window"]["rows"] / 3, rel=0.01)
    assert rep["performance"] is not None and rep["performance"]["n"] == rep["window"]["labelled_rows"]


def test_worker_data_error_reaches_the_driver(ray_session: None, logs: tuple[Path, Path, ReferenceProfile],
                                              tmp_path: Path) -> None:  # fmt: skip
    pred, _, profile = logs
    fb = pd.DataFrame({"request_id": ["q1", "q2"], "label": [1, 9]})
    fb.to_parquet(tmp_path / "bad_fb.parquet")
    with pytest.raises(DataError, match="not classes"):
        summarize_parquet_ray(pred, profile, feedback=open_feedback(tmp_path / "bad_fb.parquet"))


def test_ray_engine_joins_multi_row_labels_on_request_id_and_row(ray_session: None, tmp_path: Path) -> None:
    """Two-row requests through the real log format and the Ray engine: accuracy and label prior are the truth.

    Row 0 and row 1 of a request carry different labels, so a join on request_id alone would give each row the
    same label and a wrong accuracy and prior; shadow records share the served rows' keys and are all wrong, so
    counting them would show too. Known answer: 480 labelled rows, 450 right (0.9375), prior 220/260.
    """
    from driftline.serve_apps.prediction_log import FEEDBACK, PREDICTIONS, ParquetSink

    ref = _frame(5_000, 3)
    profile = build_reference_profile(ref, SCHEMA, confusion_matrix=np.array([[3000, 500], [400, 1100]]),
                                      baseline={"accuracy": 0.82, "n": 5000})  # fmt: skip
    (tmp_path / "profile.json").write_text(profile.to_json())
    features = _frame(500, 4).drop(columns="y").to_dict("records")
    # (row 0 label, row 0 prediction, row 1 label, row 1 prediction); None: the row is never labelled
    kinds = [(0, 0, 1, 1)] * 200 + [(1, 0, 1, 1)] * 30 + [(None, 1, 0, 0)] * 20
    t0 = T0.timestamp()
    predictions, labels = [], []
    for i, kind in enumerate(kinds):
        when = t0 + i * 25.0  # 250 requests over 1 h 44 min: two hour partitions
        for row in (0, 1):
            label, prediction = kind[2 * row], kind[2 * row + 1]
            base = {"request_id": f"req-{i}", "row": row, "timestamp": when, "model_name": "m", "model_version": "3",
                    **features[2 * i + row], "probabilities": [0.5, 0.5], "latency_ms": 1.0}  # fmt: skip
            predictions.append({**base, "variant": "champion", "role": "served", "prediction": prediction})
            predictions.append({**base, "variant": "candidate", "role": "shadow", "prediction": 1 - prediction})
            if label is not None:
                labels.append({"request_id": f"req-{i}", "row": row, "timestamp": when + 60.0, "label": label})
    sink = ParquetSink(tmp_path / "logs")
    for start in range(0, len(predictions), 100):  # several files per hour, as the writer's flushes leave them
        sink.write(PREDICTIONS, predictions[start : start + 100])
    for start in range(0, len(labels), 150):
        sink.write(FEEDBACK, labels[start : start + 150])
    assert len(sink.files(PREDICTIONS)) >= 10 and len({f.parent for f in sink.files(PREDICTIONS)}) == 2

    cfg = load_config(None, workdir=tmp_path / "wd")
    rep = run_drift_job(tmp_path / "profile.json", tmp_path / "logs" / PREDICTIONS, None, config=cfg,
                        feedback=tmp_path / "logs" / FEEDBACK, engine="ray", log_to_mlflow=False)  # fmt: skip
    assert rep["timings"]["engine"] == "ray"
    assert rep["window"]["rows"] == 500  # served rows only
    assert rep["window"]["labelled_rows"] == 480
    assert rep["performance"]["n"] == 480 and rep["performance"]["current"] == 450 / 480
    assert rep["label_shift"]["observed_prior"] == {"0": 220 / 480, "1": 260 / 480}
