"""Label-free performance inside the product: the profile's fitted estimators, the window's score histogram (from
the log's probabilities, additive across blocks), ``performance.estimated`` in the report (also for a window with no
labels), the policy's estimated-performance trigger and the HTML line beside realised accuracy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from driftline.datasets.schema import DatasetSchema, FeatureKind, FeatureSpec
from driftline.monitors.drift_config import DriftConfig
from driftline.monitors.engine_memory import summarize_frame
from driftline.monitors.estimation import estimate_cbpe, fit_cbpe
from driftline.monitors.estimation.window_estimate import (
    estimate_window,
    fit_reference_estimators,
    score_histogram,
    score_of,
)
from driftline.monitors.profile import build_reference_profile
from driftline.monitors.report import build_report
from driftline.monitors.report_html import render_html
from driftline.monitors.window import SummaryPlan, summarize_table
from driftline.platform.policy_config import TriggerConfig
from driftline.platform.policy_signals import read_signals

SCHEMA = DatasetSchema((FeatureSpec("x", FeatureKind.NUMERIC),), label="y", classes=("no", "yes"))


def validation(n: int = 6000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    p1 = rng.beta(0.6, 0.6, n)
    return np.c_[1 - p1, p1], (rng.random(n) < p1).astype(int)


@pytest.mark.parametrize("k", [2, 4])
def test_the_histogram_estimate_matches_the_exact_one(k: int) -> None:
    rng = np.random.default_rng(1)
    if k == 2:
        proba, truth = validation()
        window = np.c_[1 - rng.random(3000) ** 2, rng.random(3000) ** 2]
        window = window / window.sum(axis=1, keepdims=True)
    else:
        logits = rng.normal(size=(6000, k)) * 2
        proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        truth = np.array([rng.choice(k, p=p) for p in proba])
        window = proba[:3000] ** 1.5 / (proba[:3000] ** 1.5).sum(axis=1, keepdims=True)
    fits = fit_reference_estimators(proba, truth)
    binned = estimate_window(fits, score_histogram(score_of(window)))
    assert binned is not None
    exact = estimate_cbpe(fit_cbpe(proba, truth), window).metrics["accuracy"].value
    plain = binned.get("cbpe_accuracy", binned["accuracy"])["value"]
    assert plain == pytest.approx(exact, abs=0.002)  # bins of width 0.001 stand for their rows
    assert binned["n"] == 3000 and 0 <= binned["atc"]["value"] <= 1


def test_blocks_add_up_and_a_log_without_probabilities_has_none() -> None:
    proba, truth = validation()
    profile = build_reference_profile(pd.DataFrame({"x": proba[:, 1], "y": "no"}), SCHEMA)
    profile.estimation = fit_reference_estimators(proba, truth)
    rows = [[0.2, 0.8], [0.9, 0.1], None, [0.45, 0.55]]
    table = pa.table({"x": [1.0, 2.0, 3.0, 4.0], "probabilities": pa.array(rows, pa.list_(pa.float64()))})
    plan = SummaryPlan.for_window(profile, table.schema)
    assert plan.probability_column == "probabilities"
    whole = summarize_table(table, plan)
    parts = summarize_table(table.slice(0, 2), plan).merge(summarize_table(table.slice(2), plan))
    assert whole.scores.sum() == 3 and np.array_equal(whole.scores, parts.scores)  # the null row has no score
    assert whole.scores[800] == 1 and whole.scores[100] == 1 and whole.scores[550] == 1
    bare = pa.table({"x": [1.0]})
    assert summarize_table(bare, SummaryPlan.for_window(profile, bare.schema)).scores.size == 0


def test_a_window_without_labels_gets_an_estimate_and_the_policy_can_act_on_it() -> None:
    proba, truth = validation()
    reference = pd.DataFrame({"x": proba[:, 1], "y": np.where(truth == 1, "yes", "no")})
    profile = build_reference_profile(reference, SCHEMA, baseline={"accuracy": 0.8, "n": 6000})
    profile.estimation = fit_reference_estimators(proba, truth)
    # Scores near 0.5: the model is unsure on this window, so its expected accuracy falls.
    p1 = np.random.default_rng(3).uniform(0.4, 0.6, 2000)
    window = pd.DataFrame(
        {"x": p1, "prediction": np.where(p1 > 0.5, "yes", "no"), "probabilities": list(np.c_[1 - p1, p1])}
    )
    report = build_report(profile, summarize_frame(window, profile), DriftConfig())
    perf = report["performance"]
    assert perf["current"] is None and perf["n"] == 0 and "estimated only" in perf["reason"]
    est = perf["estimated"]
    assert est["accuracy"]["ci_high"] < 0.7 and est["decayed"] and report["summary"]["estimated_decay"]
    signals = read_signals(report, False, TriggerConfig(estimated_drop=0.1))
    fired = signals.fired["estimated_performance"]
    assert fired.startswith("estimated accuracy 0.5") and "vs baseline 0.80" in fired and "before labels" in fired
    assert "performance" in signals.missing and signals.benefit == pytest.approx(0.8 - est["accuracy"]["value"])
    assert "estimated_performance" not in read_signals(report, False, TriggerConfig()).fired  # off by default
    shift = report["label_shift"]
    assert shift["prior_source"] == "mlls" and shift["mlls_prior"] and "maximum likelihood" in shift["prior_choice"]
    assert shift["estimated_prior"] is None  # BBSE needs the confusion matrix, which this profile lacks
    page = render_html(report)
    assert "estimated accuracy 0.5" in page and "no labelled rows in the window yet" in page


def test_the_demo_shows_estimated_beside_realised_accuracy() -> None:
    from driftline.platform.demo import _accuracy_line
    from driftline.platform.demo_report import _estimate_plot

    labelled = {"performance": {"current": 0.61, "n": 300, "estimated": {"accuracy": {"value": 0.84}}}}
    assert _accuracy_line(labelled) == "realised 0.610 (300 labels), estimated 0.840 (no labels)"
    assert _accuracy_line(None) == "realised -, estimated -"
    unlabelled = {
        "performance": {"current": None, "estimated": {"accuracy": {"value": 0.7, "ci_low": 0.6, "ci_high": 0.8}}}
    }
    assert _estimate_plot([labelled, unlabelled, {"performance": None}]).startswith('<img src="data:image/png;base64,')


def test_a_multiclass_models_label_shift_is_estimated_by_mlls_from_the_sampled_rows() -> None:
    schema = DatasetSchema((FeatureSpec("x", FeatureKind.NUMERIC),), label="y", classes=("a", "b", "c"))
    rng = np.random.default_rng(4)
    means = np.array([-2.0, 0.0, 2.0])

    def draw(n: int, prior: list[float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        y = rng.choice(3, size=n, p=prior)
        x = rng.normal(means[y], 1.0)
        logits = -0.5 * (x[:, None] - means[None, :]) ** 2  # the true posterior at a uniform prior
        return x, y, np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)

    x, y, proba = draw(6000, [1 / 3, 1 / 3, 1 / 3])
    profile = build_reference_profile(pd.DataFrame({"x": x, "y": np.array(["a", "b", "c"])[y]}), schema)
    profile.estimation = fit_reference_estimators(proba, y)
    xw, _, pw = draw(20_000, [0.6, 0.3, 0.1])
    window = pd.DataFrame(
        {"x": xw, "prediction": np.array(["a", "b", "c"])[pw.argmax(axis=1)], "probabilities": list(pw)}
    )
    shift = build_report(profile, summarize_frame(window, profile), DriftConfig())["label_shift"]
    assert shift["prior_source"] == "mlls" and shift["shift_detected"]
    prior = [shift["mlls_prior"][c] for c in ("a", "b", "c")]
    assert np.allclose(prior, [0.6, 0.3, 0.1], atol=0.05)  # from 2,000 sampled rows of the 20,000
