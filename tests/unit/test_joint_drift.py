"""Joint drift: a correlation that flips leaves every marginal as it was, so per-feature tests see nothing; the
domain classifier on the reference's and the window's row samples sees it and names the interaction. Samples merge
across blocks into a uniform sample; the report, the HTML and the policy carry the verdict."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from driftline.datasets.schema import DatasetSchema, FeatureKind, FeatureSpec
from driftline.monitors.drift_config import DriftConfig
from driftline.monitors.engine_memory import summarize_frame
from driftline.monitors.joint_sample import RowSample
from driftline.monitors.profile import ReferenceProfile, build_reference_profile
from driftline.monitors.report import build_report
from driftline.monitors.report_html import render_html
from driftline.platform.policy_config import TriggerConfig
from driftline.platform.policy_signals import read_signals

SCHEMA = DatasetSchema(
    (
        FeatureSpec("x0", FeatureKind.NUMERIC),
        FeatureSpec("x1", FeatureKind.NUMERIC),
        FeatureSpec("vip", FeatureKind.CATEGORICAL),
    ),
    label="y",
    classes=(0, 1),
)


def rows(n: int, sign: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x0 = rng.normal(size=n)
    return pd.DataFrame({"x0": x0, "x1": sign * x0 + 0.5 * rng.normal(size=n), "vip": rng.random(n) < 0.3, "y": 0})


def test_a_flipped_correlation_is_joint_drift_that_per_feature_tests_miss() -> None:
    profile = ReferenceProfile.from_json(build_reference_profile(rows(20_000, 1.0, 0), SCHEMA).to_json())
    assert len(profile.sample["x0"]) == 2000 and set(profile.sample["vip"]) == {"True", "False"}  # as the log has it
    same = build_report(profile, summarize_frame(rows(20_000, 1.0, 1), profile), DriftConfig())
    assert not same["joint_drift"]["drifted"] and same["joint_drift"]["auc"] < 0.55
    window = rows(20_000, -1.0, 2).assign(vip=lambda f: f["vip"].astype(str))  # the log holds categories as text
    flipped = build_report(profile, summarize_frame(window, profile), DriftConfig())
    assert flipped["summary"]["drifted_features"] == []  # every marginal is unchanged
    joint = flipped["joint_drift"]
    assert joint["drifted"] and joint["auc"] > 0.9 and joint["top_features"][0]["feature"] == "x0*x1"
    assert flipped["summary"]["joint_drift"]
    assert "joint drift: YES" in render_html(flipped) or "joint drift" in render_html(flipped)
    assert "drift" not in read_signals(flipped, False, TriggerConfig()).fired  # off by default
    fired = read_signals(flipped, False, TriggerConfig(joint_drift=True)).fired["drift"]
    assert "joint drift" in fired
    off = build_report(profile, summarize_frame(window, profile), DriftConfig(joint={"enabled": False}))
    assert off["joint_drift"] is None


def test_bottom_k_samples_merge_into_a_uniform_sample_of_the_union() -> None:
    table = pa.table({"x": np.arange(10_000, dtype=float)})
    blocks = [RowSample.of(table.slice(i, 1000), ["x"], k=500) for i in range(0, 10_000, 1000)]
    merged = blocks[0]
    for block in blocks[1:]:
        merged = merged.merge(block)
    values = merged.frame()["x"].to_numpy()
    assert merged.rows == 500 and len(set(values)) == 500
    counts = np.bincount((values // 1000).astype(int), minlength=10)
    assert counts.min() > 25 and counts.max() < 80  # ~50 from each block: uniform over the union
    assert RowSample.of(table.slice(0, 1000), ["x"], k=500).frame().equals(blocks[0].frame())  # reproducible


def test_too_few_rows_are_not_tested_and_say_so() -> None:
    profile = build_reference_profile(rows(5_000, 1.0, 0), SCHEMA)
    report = build_report(profile, summarize_frame(rows(100, -1.0, 1), profile), DriftConfig())
    assert report["joint_drift"]["tested"] is False and "< 200" in report["joint_drift"]["reason"]
