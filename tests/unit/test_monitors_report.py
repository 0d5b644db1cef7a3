"""The kernel's report: schema, verdicts, multiple testing, bad input, window filters, config and HTML."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from driftline.core.config_loader import load_yaml_model
from driftline.core.errors import ConfigError, DataError
from driftline.datasets.schema import DatasetSchema, FeatureKind, FeatureSpec
from driftline.monitors.drift_config import DriftConfig
from driftline.monitors.engine_memory import summarize_frame, summarize_parquet
from driftline.monitors.feedback_join import open_feedback
from driftline.monitors.profile import build_reference_profile
from driftline.monitors.report import benjamini_hochberg, build_report
from driftline.monitors.report_html import render_html

REPO = Path(__file__).resolve().parents[2]
SCHEMA = DatasetSchema(
    (*(FeatureSpec(f"x{i}", FeatureKind.NUMERIC) for i in range(5)), FeatureSpec("region", FeatureKind.CATEGORICAL)),
    label="y",
    classes=(0, 1),
)
T0 = datetime(2024, 5, 1, tzinfo=timezone.utc)


def _frame(n: int, seed: int, shift: float = 0.0, prior: float = 0.3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    d = {f"x{i}": rng.normal(shift if i < 2 else 0.0, 1, n) for i in range(5)}
    d["region"] = rng.choice(["n", "s", "e"], n, p=[0.5, 0.3, 0.2])
    d["y"] = (rng.random(n) < prior).astype(np.int64)
    return pd.DataFrame(d)


@pytest.fixture(scope="module")
def profile():  # type: ignore[no-untyped-def]
    cm = np.array([[6300, 700], [600, 2400]])
    return build_reference_profile(_frame(10_000, 0), SCHEMA, confusion_matrix=cm, baseline={"accuracy": 0.87})


def test_report_schema_and_verdicts(profile) -> None:  # type: ignore[no-untyped-def]
    cur = _frame(4_000, 1, shift=0.5)
    rep = build_report(profile, summarize_frame(cur, profile), DriftConfig(), reference_source="unit")
    json.dumps(rep, allow_nan=False)
    assert rep["schema_version"] == "1.0"
    assert set(rep) >= {"window", "reference", "features", "label_shift", "performance", "summary", "timings"}
    assert rep["window"]["rows"] == 4000 and rep["window"]["labelled_rows"] == 4000
    assert rep["summary"]["drifted_features"] == ["x0", "x1"]
    assert rep["summary"]["dataset_drift"] and "Benjamini-Hochberg" in rep["summary"]["method"]
    f = rep["features"]["x0"]
    assert f["kind"] == "numeric" and f["testable"] and f["reason"] is None and f["drifted"]
    assert set(f["tests"]) == {"ks", "wasserstein", "psi", "jensen_shannon"}
    assert set(f["tests"]["ks"]) >= {"statistic", "p_value", "threshold", "drifted"}
    assert sum(f["current_histogram"]["counts"]) == 4000 and len(f["reference_histogram"]["edges"]) == 21
    assert set(rep["features"]["region"]["tests"]) == {"chi2", "psi", "jensen_shannon"}
    assert rep["performance"] is None  # labels but no prediction column
    assert rep["label_shift"]["observed_prior"] is not None and not rep["label_shift"]["shift_detected"]


def test_no_drift_on_same_distribution(profile) -> None:  # type: ignore[no-untyped-def]
    rep = build_report(profile, summarize_frame(_frame(4_000, 2), profile), DriftConfig())
    assert rep["summary"]["drifted_features"] == [] and not rep["summary"]["dataset_drift"]


def test_benjamini_hochberg_known_values() -> None:
    # hand-computed step-up: sorted p * m / rank, then the running minimum from the top
    p = np.array([0.01, 0.04, 0.03, 0.005, 0.5])
    np.testing.assert_allclose(benjamini_hochberg(p), [0.025, 0.05, 0.05, 0.025, 0.5], rtol=1e-12)
    assert benjamini_hochberg(np.array([])).size == 0


def test_bh_changes_a_borderline_verdict(profile) -> None:  # type: ignore[no-untyped-def]
    cur = _frame(400, 3, shift=0.0)
    cur["x0"] = np.random.default_rng(9).normal(0.3, 1, 400)
    loose = DriftConfig.model_validate({"thresholds": {"ks": 0.01}, "dataset": {"correction": "none"}})
    strict = DriftConfig.model_validate({"thresholds": {"ks": 0.01}})
    s = summarize_frame(cur, profile)
    raw, adj = build_report(profile, s, loose), build_report(profile, s, strict)
    assert set(adj["summary"]["drifted_features"]) <= set(raw["summary"]["drifted_features"])
    for name, f in adj["features"].items():
        if f["p_value_adjusted"] is not None:
            assert f["p_value_adjusted"] >= f["tests"][f["primary_test"]]["p_value"] - 1e-15, name


def test_bad_window_inputs(profile) -> None:  # type: ignore[no-untyped-def]
    cur = _frame(500, 4)
    with pytest.raises(DataError, match="lacks feature columns"):
        summarize_frame(cur.drop(columns=["x3"]), profile)
    with pytest.raises(DataError, match="numeric in the reference"):
        summarize_frame(cur.assign(x2=cur["region"]), profile)
    with pytest.raises(DataError, match="empty"):
        build_report(profile, summarize_frame(cur.iloc[:0], profile), DriftConfig())
    with pytest.raises(DataError, match="not classes"):
        summarize_frame(cur.assign(y=7), profile)


def test_nan_inf_and_constant_columns_are_reported_not_crashed() -> None:
    ref = _frame(5_000, 5).assign(x4=1.0)
    prof = build_reference_profile(ref, SCHEMA)
    cur = _frame(1_000, 6)
    cur.loc[:99, "x0"] = np.nan
    cur.loc[100:109, "x0"] = np.inf
    cur["x1"] = np.nan
    rep = build_report(prof, summarize_frame(cur, prof), DriftConfig())
    x0, x1, x4 = (rep["features"][n] for n in ("x0", "x1", "x4"))
    assert x0["testable"] and "100 NaN and 10 inf" in x0["note"] and x0["stats"]["current"]["n"] == 890
    assert not x1["testable"] and "0 usable values" in x1["reason"] and x1["tests"] == {} and not x1["drifted"]
    assert not x4["testable"] and "constant" in x4["reason"]
    assert rep["summary"]["testable_features"] == 4
    json.dumps(rep, allow_nan=False)


def _prediction_log(root: Path, df: pd.DataFrame, prefix: str = "r") -> pd.DataFrame:
    n = len(df)
    rng = np.random.default_rng(7)
    log = df.drop(columns=["y"]).assign(
        request_id=[f"{prefix}{i}" for i in range(n)],
        timestamp=pd.to_datetime([T0 + timedelta(minutes=i) for i in range(n)], utc=True),
        model_name="m", model_version="1",
        variant="champion", role=np.where(np.arange(n) % 10 == 9, "shadow", "served"),
        prediction=np.where(rng.random(n) < 0.85, df["y"], 1 - df["y"]).astype(np.int64),
        probabilities=[[0.5, 0.5]] * n, latency_ms=1.0,
    )  # fmt: skip
    for hour, part in log.groupby(log["timestamp"].dt.hour):
        folder = root / "dt=2024-05-01" / f"hour={hour:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        table = pa.Table.from_pandas(part, preserve_index=False)
        table = table.set_column(table.schema.get_field_index("timestamp"), "timestamp",
                                 table.column("timestamp").cast(pa.timestamp("us", tz="UTC")))  # fmt: skip
        pq.write_table(table, folder / "part-0.parquet")
    return log


def test_prediction_log_window_with_feedback_and_time_bounds(profile, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    df = _frame(300, 8)
    log = _prediction_log(tmp_path / "pred", df)
    fb = pd.DataFrame({"request_id": log["request_id"][:200], "label": df["y"][:200].astype(np.int64),
                       "timestamp": log["timestamp"][:200]})  # fmt: skip
    fb = pd.concat([fb, fb.iloc[:5].assign(label=1 - fb["label"][:5], timestamp=fb["timestamp"][:5] + timedelta(1))])
    pq.write_table(pa.Table.from_pandas(fb, preserve_index=False), tmp_path / "fb.parquet")
    feedback = open_feedback(tmp_path / "fb.parquet")
    s = summarize_parquet(tmp_path / "pred", profile, feedback=feedback)
    served = log["role"] == "served"
    assert s.rows == int(served.sum()) and s.has_predictions and s.has_labels
    labels = df["y"].to_numpy().copy()
    labels[:5] = 1 - labels[:5]  # the later feedback wins
    keep = served.to_numpy() & (np.arange(300) < 200)
    np.testing.assert_array_equal(s.labels.label_counts, np.bincount(labels[keep], minlength=2))
    np.testing.assert_array_equal(s.labels.prediction_counts, np.bincount(log["prediction"][served], minlength=2))
    assert s.labels.joint.sum() == keep.sum()
    since, until = T0 + timedelta(minutes=60), "2024-05-01T03:00:00Z"
    bounded = summarize_parquet(tmp_path / "pred", profile, since=since, until=until)
    assert bounded.rows == int((served & (np.arange(300) >= 60) & (np.arange(300) < 180)).sum())
    rep = build_report(profile, bounded, DriftConfig())
    in_window = log["timestamp"][served & (np.arange(300) >= 60) & (np.arange(300) < 180)]
    assert rep["window"]["start"] == in_window.min().isoformat() and rep["window"]["end"] == in_window.max().isoformat()
    full = build_report(profile, s, DriftConfig())
    assert full["performance"] is not None and full["performance"]["n"] == keep.sum()


def test_drift_config_file_and_errors() -> None:
    cfg = load_yaml_model(REPO / "configs" / "drift.yaml", DriftConfig)
    default = DriftConfig()
    # the file spells out the defaults, plus one per-feature override
    assert cfg.model_dump(exclude={"thresholds", "features"}) == default.model_dump(exclude={"thresholds", "features"})
    for test in ("ks", "wasserstein", "psi", "jensen_shannon", "chi2"):
        assert cfg.threshold_for("x0", test) == default.threshold_for("x0", test)
    assert cfg.threshold_for("x4", "ks") == 0.15 and cfg.threshold_for("x0", "wasserstein") == 0.25
    for bad in (
        {"thresholds": {"kss": 0.1}},
        {"tests": {"categorical": ["ks"]}},
        {"primary_test": {"numeric": "chi2"}},
        {"features": {"x0": {"primary_test": "nope"}}},
        {"unknown_key": 1},
    ):
        with pytest.raises(ValueError):
            DriftConfig.model_validate(bad)


def test_drift_config_load_error_names_the_field(tmp_path: Path) -> None:
    path = tmp_path / "d.yaml"
    path.write_text("dataset: {fdr: 2}\n")
    with pytest.raises(ConfigError, match=r"dataset\.fdr"):
        load_yaml_model(path, DriftConfig)


def test_html_is_self_contained_and_shows_everything(profile) -> None:  # type: ignore[no-untyped-def]
    rep = build_report(profile, summarize_frame(_frame(2_000, 9, shift=0.5), profile), DriftConfig())
    page = render_html(rep)
    assert page.startswith("<!doctype html>") and "<svg" in page and "Label shift" in page
    for name in SCHEMA.feature_names:
        assert name in page
    assert "http://" not in page and "https://" not in page and "<script" not in page


def test_benjamini_hochberg_equals_scipy_on_random_p_values() -> None:
    from scipy.stats import false_discovery_control

    rng = np.random.default_rng(7)
    for size in (1, 2, 5, 40, 333):
        p = np.concatenate([rng.uniform(size=size), rng.uniform(0, 1e-4, size=size // 3)])
        p[: size // 4] = p[-1]  # ties
        np.testing.assert_allclose(benjamini_hochberg(p), false_discovery_control(p, method="bh"), rtol=1e-12)
