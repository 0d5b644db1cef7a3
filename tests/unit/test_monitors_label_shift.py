"""BBSE prior estimation, the Saerens prior correction, and the performance (accuracy decay) section."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest

from driftline.core.errors import DataError
from driftline.monitors.drift_config import LabelShiftConfig, PerformanceConfig
from driftline.monitors.label_shift import bbse_prior, label_shift_section, reweight_probabilities
from driftline.monitors.performance import performance_section
from driftline.monitors.summaries import LabelSummary

# P(pred = j | true = i) of a fixed black-box classifier (rows: true class)
CONFUSION_RATES = np.array([[0.9, 0.1], [0.25, 0.75]])


def _simulate(prior: float, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    y = (rng.random(n) < prior).astype(int)
    pred = np.where(rng.random(n) < CONFUSION_RATES[y, 1], 1, 0)
    return y, pred


def _confusion(y: np.ndarray, pred: np.ndarray, k: int = 2) -> np.ndarray:
    return np.bincount(y * k + pred, minlength=k * k).reshape(k, k)


@pytest.mark.parametrize(("new_prior", "seed"), [(0.5, 0), (0.1, 1), (0.8, 2)])
def test_bbse_recovers_a_known_prior_shift(new_prior: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    cm = _confusion(*_simulate(0.1, 20_000, rng))  # validation: 10% positives
    _, pred = _simulate(new_prior, 20_000, rng)  # window: same P(x|y), new prior, no labels
    est = bbse_prior(cm, np.bincount(pred, minlength=2))
    assert est.prior[1] == pytest.approx(new_prior, abs=0.03)
    assert est.prior.sum() == pytest.approx(1.0)
    naive = pred.mean()  # the predicted prior alone is biased by the classifier's errors
    assert abs(est.prior[1] - new_prior) < abs(naive - new_prior)


def test_bbse_three_classes_and_clipping() -> None:
    rng = np.random.default_rng(3)
    rates = np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]])
    y_val = rng.choice(3, 30_000, p=[0.6, 0.3, 0.1])
    p_val = np.array([rng.choice(3, p=rates[c]) for c in y_val[:6000]])
    cm = _confusion(y_val[:6000], p_val, 3)
    y_new = rng.choice(3, 6000, p=[0.2, 0.3, 0.5])
    p_new = np.array([rng.choice(3, p=rates[c]) for c in y_new])
    est = bbse_prior(cm, np.bincount(p_new, minlength=3))
    np.testing.assert_allclose(est.prior, [0.2, 0.3, 0.5], atol=0.05)
    # a predicted distribution outside C's range gets a negative solution, clipped to 0
    clipped = bbse_prior(cm, np.array([0, 0, 100]))
    assert (clipped.weights >= 0).all() and clipped.prior.sum() == pytest.approx(1.0)
    with pytest.raises(DataError):
        bbse_prior(np.ones((2, 3)), np.array([1, 2]))


def test_reweight_probabilities_is_saerens_prior_correction() -> None:
    p = np.array([[0.5, 0.5], [0.9, 0.1], [0.0, 0.0]])
    w = np.array([0.5, 2.0])
    out = reweight_probabilities(p, w)
    expected = p[:2] * w / (p[:2] * w).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(out[:2], expected)
    np.testing.assert_array_equal(out[2], [0.0, 0.0])  # weighted sum 0: row left unchanged
    # the Bayes-consistent check: with true posteriors under the old prior, reweighting gives the new posteriors
    old, new = np.array([0.9, 0.1]), np.array([0.5, 0.5])
    lik = np.array([[0.3, 0.6]])  # p(x | y) for one x
    post_old = lik * old / (lik * old).sum()
    post_new = lik * new / (lik * new).sum()
    np.testing.assert_allclose(reweight_probabilities(post_old, new / old), post_new)
    with pytest.raises(DataError):
        reweight_probabilities(p, np.array([1.0, -1.0]))
    with pytest.raises(DataError):
        reweight_probabilities(p, np.array([1.0, 1.0, 1.0]))


def test_label_shift_section_prefers_observed_prior_then_bbse() -> None:
    rng = np.random.default_rng(4)
    cm = _confusion(*_simulate(0.1, 20_000, rng))
    y, pred = _simulate(0.5, 5_000, rng)
    window = LabelSummary(2, np.bincount(y, minlength=2), np.bincount(pred, minlength=2), _confusion(y, pred))
    ref_counts = cm.sum(axis=1)
    cfg = LabelShiftConfig()
    with_labels = label_shift_section((0, 1), ref_counts, cm, window, True, True, cfg)
    assert with_labels["prior_source"] == "observed" and with_labels["shift_detected"]
    ref_prior_1 = cm[1].sum() / 20_000
    assert with_labels["class_weights"]["1"] == pytest.approx(with_labels["observed_prior"]["1"] / ref_prior_1)
    no_labels = LabelSummary(2, np.zeros(2, np.int64), window.prediction_counts, np.zeros((2, 2), np.int64))
    est = label_shift_section((0, 1), ref_counts, cm, no_labels, False, True, cfg)
    assert est["prior_source"] == "bbse" and est["observed_prior"] is None and est["shift_detected"]
    assert est["estimated_prior"]["1"] == pytest.approx(0.5, abs=0.04)
    stable = LabelSummary(2, np.zeros(2, np.int64), np.bincount(_simulate(0.1, 5_000, rng)[1], minlength=2),
                          np.zeros((2, 2), np.int64))  # fmt: skip
    assert not label_shift_section((0, 1), ref_counts, cm, stable, False, True, cfg)["shift_detected"]
    nothing = label_shift_section((0, 1), ref_counts, None, LabelSummary.empty(2), False, False, cfg)
    assert nothing["estimated_prior"] is None and nothing["total_variation"] is None and not nothing["shift_detected"]


def test_performance_decay_needs_significance_and_size() -> None:
    cfg = PerformanceConfig()
    joint = np.array([[400, 100], [100, 400]])  # accuracy 0.8 on 1000 rows
    sec = performance_section({"accuracy": 0.9, "n": 2000}, joint, cfg)
    assert sec is not None and sec["decayed"] and sec["current"] == pytest.approx(0.8)
    ci = binomtest(800, 1000).proportion_ci(0.95, method="wilson")
    assert (sec["ci_low"], sec["ci_high"]) == pytest.approx((ci.low, ci.high), abs=1e-12)
    assert sec["p_value"] == pytest.approx(binomtest(800, 1000, 0.9, alternative="less").pvalue)
    # a 0.5-point drop on a million labels is significant but below min_drop: not decay
    big = np.array([[447_500, 52_500], [52_500, 447_500]])
    sec_big = performance_section({"accuracy": 0.9}, big, cfg)
    assert sec_big is not None and sec_big["p_value"] < 1e-6 and not sec_big["decayed"]
    small = performance_section({"accuracy": 0.9}, np.array([[10, 10], [10, 10]]), cfg)
    assert small is not None and not small["decayed"] and "min_labelled" in small["reason"]
    assert performance_section({}, joint, cfg) is None
