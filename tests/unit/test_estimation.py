"""CBPE and ATC against the truth on seeded synthetic probabilities where the realised accuracy is known.

A "model" here is a probability per row; labels are drawn from the true probabilities, so a calibrated model's
expected accuracy is known and a shift that moves the confidence distribution changes it by a known amount.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.special import expit, logit
from scipy.stats import rankdata

from driftline.core.errors import DataError, DriftlineError
from driftline.monitors.estimation import (
    ATCFit,
    Calibrator,
    CBPEFit,
    atc_estimate,
    estimate_cbpe,
    estimate_regression_performance,
    fit_atc,
    fit_calibrator,
    fit_cbpe,
)


def _binary(rng: np.random.Generator, n: int, a: float, b: float, sharpen: float = 1.0):  # type: ignore[no-untyped-def]
    """True P(y=1) ~ Beta(a, b); labels from it; the model reports logit * sharpen (miscalibrated if != 1)."""
    p_true = np.clip(rng.beta(a, b, n), 1e-6, 1 - 1e-6)
    y = (rng.random(n) < p_true).astype(np.int64)
    p_model = expit(sharpen * logit(p_true))
    return np.c_[1 - p_model, p_model], y


def _realised(proba: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    pred = proba.argmax(axis=1)
    acc = float((pred == y).mean())
    tp = float(((pred == 1) & (y == 1)).sum())
    f1 = 2 * tp / ((pred == 1).sum() + (y == 1).sum())
    ranks = rankdata(proba[:, 1])
    n1 = y.sum()
    auc = float((ranks[y == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * (len(y) - n1)))
    return acc, f1, auc


@pytest.mark.parametrize("method", ["isotonic", "histogram"])
def test_cbpe_follows_a_covariate_shift_of_a_miscalibrated_model(method: str) -> None:
    # Reference: Beta(2, 2) (accuracy ~0.69); window: Beta(0.6, 0.6), far more confident rows (accuracy ~0.80).
    # The model is overconfident (logit x 2), so its raw mean confidence overstates accuracy by ~0.1.
    ref_p, ref_y = _binary(np.random.default_rng(0), 20_000, 2, 2, sharpen=2.0)
    fit = fit_cbpe(ref_p, ref_y, method=method)
    win_p, win_y = _binary(np.random.default_rng(1), 20_000, 0.6, 0.6, sharpen=2.0)
    acc, f1, auc = _realised(win_p, win_y)
    est = estimate_cbpe(fit, win_p).metrics
    assert acc - fit.reference_accuracy > 0.08  # the shift really moved accuracy
    assert abs(win_p.max(axis=1).mean() - acc) > 0.05  # and raw confidence is not the answer
    # Measured errors (isotonic / histogram): accuracy 0.003 / 0.019, f1 0.003 / 0.020, auc 0.005 / 0.035. Histogram
    # binning averages within a bin, and the shift moves rows within bins: that is why isotonic is the default.
    tol = 0.01 if method == "isotonic" else 0.04
    assert est["accuracy"].value == pytest.approx(acc, abs=tol)
    assert est["f1"].value == pytest.approx(f1, abs=tol)
    assert est["roc_auc"].value == pytest.approx(auc, abs=tol)


def test_cbpe_interval_covers_the_realised_metrics_at_the_nominal_rate() -> None:
    ref_p, ref_y = _binary(np.random.default_rng(0), 50_000, 2, 2, sharpen=1.5)
    fit = fit_cbpe(ref_p, ref_y)
    covered = {"accuracy": 0, "f1": 0, "roc_auc": 0}
    seeds = range(100, 300)
    for seed in seeds:
        win_p, win_y = _binary(np.random.default_rng(seed), 1000, 0.8, 0.8, sharpen=1.5)
        truth = dict(zip(("accuracy", "f1", "roc_auc"), _realised(win_p, win_y), strict=True))
        est = estimate_cbpe(fit, win_p, confidence=0.9, n_draws=200, seed=seed).metrics
        for name, value in truth.items():
            covered[name] += est[name].ci_low <= value <= est[name].ci_high
    rates = {k: v / len(seeds) for k, v in covered.items()}
    # Nominal 0.90; 200 windows give a binomial s.e. of 0.021. Measured: accuracy 0.91, f1 0.905, auc 0.855 (the
    # AUC interval is a little narrow: it leaves out the calibrator's own error, which matters more for ranking).
    assert 0.85 <= rates["accuracy"] <= 0.95 and 0.85 <= rates["f1"] <= 0.95, rates
    assert 0.80 <= rates["roc_auc"] <= 0.95, rates


def test_cbpe_multiclass_top_label() -> None:
    def draw(seed: int, concentration: float) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(seed)
        p = rng.dirichlet([concentration] * 4, 20_000)
        y = (rng.random((20_000, 1)) > p.cumsum(axis=1)).sum(axis=1)
        return p, y

    fit = fit_cbpe(*draw(0, 1.0))
    win_p, win_y = draw(1, 0.3)  # sharper rows: accuracy ~0.72 vs ~0.52
    acc = float((win_p.argmax(axis=1) == win_y).mean())
    est = estimate_cbpe(fit, win_p).metrics
    assert acc - fit.reference_accuracy > 0.15
    assert set(est) == {"accuracy"}
    assert est["accuracy"].value == pytest.approx(acc, abs=0.015)


def test_atc_follows_the_same_shift() -> None:
    ref_p, ref_y = _binary(np.random.default_rng(0), 20_000, 2, 2, sharpen=2.0)
    win_p, win_y = _binary(np.random.default_rng(1), 20_000, 0.6, 0.6, sharpen=2.0)
    acc = float((win_p.argmax(axis=1) == win_y).mean())
    for score in ("negative_entropy", "max_confidence"):
        fit = fit_atc(ref_p, ref_y, score=score)
        # the share above the threshold on the reference is its accuracy, by construction
        assert atc_estimate(fit, ref_p).metrics["accuracy"].value == pytest.approx(fit.reference_accuracy, abs=1e-3)
        # Measured error +0.051 for both scores (in the binary case both scores rank rows alike): ATC follows the
        # shift (0.69 -> 0.80) but overshoots; CBPE's calibrated sum is exact here (test above, 0.003).
        assert atc_estimate(fit, win_p).metrics["accuracy"].value == pytest.approx(acc, abs=0.06)


def test_fits_are_plain_json_and_round_trip() -> None:
    p, y = _binary(np.random.default_rng(0), 3000, 2, 2)
    cbpe, atc = fit_cbpe(p, y), fit_atc(p, y)
    cbpe2 = CBPEFit.from_dict(json.loads(json.dumps(cbpe.to_dict(), allow_nan=False)))
    atc2 = ATCFit.from_dict(json.loads(json.dumps(atc.to_dict(), allow_nan=False)))
    assert estimate_cbpe(cbpe2, p).to_dict() == estimate_cbpe(cbpe, p).to_dict()
    assert atc_estimate(atc2, p) == atc_estimate(atc, p)


def test_isotonic_is_monotone_and_preserves_the_mean() -> None:
    rng = np.random.default_rng(4)
    s = rng.random(500)
    y = (rng.random(500) < s**2).astype(float)
    cal = fit_calibrator(s, y)
    fitted = cal(s)
    assert np.all(np.diff(cal(np.sort(s))) >= -1e-12)
    assert fitted.mean() == pytest.approx(y.mean(), abs=1e-12)  # PAV's blocks average their outcomes
    # by hand: outcomes 1, 0 at scores .1, .2 pool to 0.5; then 0 at .3 pools all three to 1/3
    assert fit_calibrator([0.1, 0.2, 0.3], [1, 0, 0])([0.1, 0.3]).tolist() == pytest.approx([1 / 3, 1 / 3])


def test_histogram_bins_by_hand() -> None:
    cal = fit_calibrator([0.1, 0.2, 0.3, 0.4], [0, 1, 1, 1], method="histogram", n_bins=2)
    assert cal.method == "histogram" and cal([0.0, 0.15, 0.35, 1.0]).tolist() == [0.5, 0.5, 1.0, 1.0]
    assert Calibrator.from_dict(cal.to_dict()) == cal


def test_bad_inputs_say_what_to_fix() -> None:
    with pytest.raises(DataError, match="n_classes"):
        fit_cbpe(np.ones(5), np.zeros(5, dtype=int))
    with pytest.raises(DataError, match="class indices"):
        fit_cbpe(np.full((3, 2), 0.5), np.array([0, 1, 2]))
    with pytest.raises(DataError, match="isotonic"):
        fit_calibrator([0.1, 0.2], [0, 1], method="platt")
    with pytest.raises(DataError, match="ATC score"):
        fit_atc(np.full((3, 2), 0.5), np.array([0, 1, 1]), score="margin")
    with pytest.raises(DriftlineError, match="regression"):
        estimate_regression_performance()


def test_cbpe_with_mlls_weights_follows_a_label_shift() -> None:
    # Gaussian classes x | y ~ N(±1, 1); the model is the Bayes posterior at prior 0.5, whose decision stays at 0.
    # In a window with P(y=1) = 0.9 the reference calibration is biased towards 0.5; the prior correction is not.
    from driftline.monitors.label_shift_mlls import mlls_prior

    def rows(seed: int, prior: float, n: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(seed)
        y = (rng.random(n) < prior).astype(np.int64)
        p1 = expit(2.0 * rng.normal(2.0 * y - 1.0, 1.0))
        return np.c_[1 - p1, p1], y

    fit = fit_cbpe(*rows(0, 0.5, 20_000))
    win_p, win_y = rows(1, 0.9, 20_000)
    acc = float((win_p.argmax(axis=1) == win_y).mean())
    plain = estimate_cbpe(fit, win_p).metrics["accuracy"].value
    weights = mlls_prior(win_p, [0.5, 0.5]).weights
    corrected = estimate_cbpe(fit, win_p, class_weights=weights).metrics
    # measured: plain error 0.0023 (the features move with y, so plain CBPE already follows), corrected 0.0012
    assert abs(corrected["accuracy"].value - acc) < 0.005
    assert abs(corrected["accuracy"].value - acc) < abs(plain - acc)
    with pytest.raises(DataError, match="class_weights"):
        estimate_cbpe(fit, win_p, class_weights=[1.0, -1.0])
