"""MLLS + BCTS against the truth on seeded Gaussian classes with induced priors, compared with BBSE.

Classes are Gaussians with known means, so the true posterior is known; the "model" reports distorted logits
(temperature 0.5, a per-class bias), which BCTS must undo. The window's prior is induced by sampling classes.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from driftline.core.errors import DataError
from driftline.monitors.label_shift import bbse_prior
from driftline.monitors.label_shift_mlls import BCTSCalibration, fit_bcts, logits_from_probabilities, mlls_prior


def _rows(rng: np.random.Generator, n: int, prior: np.ndarray, sep: float, bias: np.ndarray):  # type: ignore[no-untyped-def]
    k = prior.size
    y = rng.choice(k, size=n, p=prior)
    means = sep * np.eye(k)
    x = means[y] + rng.normal(size=(n, k))
    true_logits = x @ means.T - 0.5 * sep**2  # log p(x | y) up to a constant: posterior under a uniform prior
    return 2.0 * true_logits + bias, y  # overconfident (T = 0.5) and biased


def _bbse(z_val: np.ndarray, y_val: np.ndarray, z_win: np.ndarray) -> np.ndarray:
    k = z_val.shape[1]
    confusion = np.zeros((k, k))
    np.add.at(confusion, (y_val, z_val.argmax(axis=1)), 1)
    return bbse_prior(confusion, np.bincount(z_win.argmax(axis=1), minlength=k)).prior


def _errors(k: int, sep: float, target: np.ndarray, seed: int) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    bias = rng.normal(0.0, 0.5, k)
    z_val, y_val = _rows(rng, 5000, np.full(k, 1 / k), sep, bias)
    z_win, _ = _rows(rng, 5000, target, sep, bias)
    cal = fit_bcts(z_val, y_val)
    mlls = mlls_prior(cal.probabilities(z_win), np.bincount(y_val, minlength=k) / len(y_val))
    assert mlls.converged
    return float(np.abs(mlls.prior - target).sum()), float(np.abs(_bbse(z_val, y_val, z_win) - target).sum())


@pytest.mark.parametrize("target", [0.1, 0.3, 0.8])
def test_binary_induced_prior(target: float) -> None:
    # measured mean L1 errors MLLS / BBSE over seeds 0-4: 0.1: .021/.038, 0.3: .016/.039, 0.8: .016/.022
    errs = [_errors(2, 1.0, np.array([1 - target, target]), seed) for seed in range(5)]
    mlls, bbse = np.mean(errs, axis=0)
    assert mlls <= 0.04, errs
    assert mlls <= bbse, errs


def test_ten_class_dirichlet_priors() -> None:
    # measured mean L1 over 5 Dirichlet(1) targets: MLLS 0.066, BBSE 0.083
    errs = []
    for seed in range(5):
        target = np.random.default_rng(1000 + seed).dirichlet(np.ones(10))
        errs.append(_errors(10, 2.0, target, seed))
    mlls, bbse = np.mean(errs, axis=0)
    assert mlls <= 0.10, errs
    assert mlls <= bbse, errs


def test_bcts_recovers_the_distortion() -> None:
    rng = np.random.default_rng(0)
    bias = np.array([0.0, 0.7, -0.4])
    z, y = _rows(rng, 20_000, np.full(3, 1 / 3), 1.5, bias)
    cal = fit_bcts(z, y)
    assert cal.temperature == pytest.approx(2.0, rel=0.05)
    assert np.allclose(np.asarray(cal.bias) - cal.bias[0], -(bias - bias[0]) / 2.0, atol=0.05)
    # the optimum matches the label frequencies on average (the gradient in b is sum(p - onehot))
    assert np.allclose(cal.probabilities(z).mean(axis=0), np.bincount(y) / len(y), atol=1e-4)
    assert BCTSCalibration.from_dict(json.loads(json.dumps(cal.to_dict()))) == cal


def test_no_shift_is_a_fixed_point_and_probabilities_work_as_logits() -> None:
    p = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]])
    prior = p.mean(axis=0)
    est = mlls_prior(p, prior)
    assert est.n_iter == 1 and np.allclose(est.prior, prior) and np.allclose(est.weights, 1.0)
    assert np.allclose(np.exp(logits_from_probabilities(p)), p)


def test_bad_inputs_say_what_to_fix() -> None:
    with pytest.raises(DataError, match="reference_prior"):
        mlls_prior(np.full((4, 2), 0.5), [1.0, 0.0])
    with pytest.raises(DataError, match="n_classes"):
        mlls_prior(np.ones(4), [0.5, 0.5])
    with pytest.raises(DataError, match="class index"):
        fit_bcts(np.zeros((3, 2)), np.array([0, 1, 2]))
