"""Label-shift estimators on induced priors: L1 error of MLLS+BCTS, BBSE, MLLS without calibration, and the naive
predicted-label prior (all measured in the same run).

Data: Gaussian classes (binary: 5 features, means ±0.6 per feature; 10-class: 10 features, means 2.0 * e_k). The
model is linear discriminant analysis fitted on 300 (binary) / 1,000 (10-class) training rows at a uniform prior,
so it is a real, imperfectly calibrated model. Validation: 5,000 rows at the training prior. Windows: 500 or 2,000
rows at an induced prior (binary: P(y=1) in 0.05..0.95; 10-class: Dirichlet(alpha) draws, alpha 0.1 and 1.0).

    python benchmarks/label_shift.py [--repeats 10]

Target: MLLS+BCTS (the default) is never worse than BBSE in any cell.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from driftline.monitors.label_shift import bbse_prior
from driftline.monitors.label_shift_mlls import fit_bcts, mlls_prior

METHODS = ("mlls_bcts", "bbse", "mlls_raw", "naive")


def _sample(rng: np.random.Generator, means: np.ndarray, prior: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    y = rng.choice(len(prior), size=n, p=prior)
    return means[y] + rng.normal(size=(n, means.shape[1])), y


def _lda(x: np.ndarray, y: np.ndarray, k: int):  # type: ignore[no-untyped-def]
    """Fit LDA (class means, pooled covariance) at a uniform prior; returns a logits function."""
    mu = np.stack([x[y == c].mean(axis=0) for c in range(k)])
    cov = np.cov((x - mu[y]).T) + 1e-6 * np.eye(x.shape[1])
    inv = np.linalg.inv(cov)
    return lambda rows: rows @ inv @ mu.T - 0.5 * np.einsum("kd,de,ke->k", mu, inv, mu)


def _estimates(logits, cal, confusion, ref_prior, z_win):  # type: ignore[no-untyped-def]
    k = z_win.shape[1]
    pred_counts = np.bincount(z_win.argmax(axis=1), minlength=k)
    raw = np.exp(z_win - z_win.max(axis=1, keepdims=True))
    raw /= raw.sum(axis=1, keepdims=True)
    return {
        "mlls_bcts": mlls_prior(cal.probabilities(z_win), ref_prior).prior,
        "bbse": bbse_prior(confusion, pred_counts).prior,
        "mlls_raw": mlls_prior(raw, ref_prior).prior,
        "naive": pred_counts / pred_counts.sum(),
    }


def _cell(k: int, targets: list[np.ndarray], n_window: int, seed: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    means = 0.6 * np.array([[-1.0] * 5, [1.0] * 5]) if k == 2 else 2.0 * np.eye(k)
    uniform = np.full(k, 1.0 / k)
    logits = _lda(*_sample(rng, means, uniform, 300 if k == 2 else 1000), k)
    x_val, y_val = _sample(rng, means, uniform, 5000)
    z_val = logits(x_val)
    cal = fit_bcts(z_val, y_val)
    confusion = np.zeros((k, k))
    np.add.at(confusion, (y_val, z_val.argmax(axis=1)), 1)
    ref_prior = np.bincount(y_val, minlength=k) / len(y_val)
    errors: dict[str, list[float]] = {m: [] for m in METHODS}
    for target in targets:
        x_win, _ = _sample(rng, means, target, n_window)
        for name, est in _estimates(logits, cal, confusion, ref_prior, logits(x_win)).items():
            errors[name].append(float(np.abs(est - target).sum()))
    return {m: float(np.mean(v)) for m, v in errors.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10, help="models (seeds) per cell")
    args = parser.parse_args()
    binary = [np.array([1 - p, p]) for p in (0.05, 0.2, 0.5, 0.8, 0.95)]
    print(f"{'cell':<34}" + "".join(f"{m:>11}" for m in METHODS) + f"{'bbse/mlls':>11}  verdict   load avg")
    worse = 0
    for label, k, alpha in (("binary", 2, None), ("10-class Dir(0.1)", 10, 0.1), ("10-class Dir(1.0)", 10, 1.0)):
        for n_window in (500, 2000):
            start = time.perf_counter()
            cells = []
            for seed in range(args.repeats):
                trng = np.random.default_rng(10_000 + seed)
                targets = binary if alpha is None else [trng.dirichlet(np.full(k, alpha)) for _ in range(5)]
                cells.append(_cell(k, targets, n_window, seed))
            mean = {m: float(np.mean([c[m] for c in cells])) for m in METHODS}
            ok = mean["mlls_bcts"] <= mean["bbse"]
            worse += not ok
            name = f"{label}, window {n_window}"
            row = "".join(f"{mean[m]:>11.4f}" for m in METHODS)
            ratio = mean["bbse"] / mean["mlls_bcts"]
            load = "/".join(f"{v:.1f}" for v in os.getloadavg())
            verdict = "met" if ok else "MISSED"
            print(f"{name:<34}{row}{ratio:>11.2f}  {verdict:<8}  {load}  ({time.perf_counter() - start:.1f} s)")
    print(
        f"mean L1 error over {args.repeats} models x 5 target priors per cell; target MLLS <= BBSE in every cell:",
        "met" if worse == 0 else f"missed in {worse} cells",
    )


if __name__ == "__main__":
    main()
