"""Label-free accuracy estimates vs the realised accuracy: CBPE, CBPE + MLLS prior correction, ATC, and the naive
"accuracy stays at the reference's", all measured in this run.

Streams: driftline's synthetic covariate_shift, label_shift and concept_drift (20,000 rows, change at 10,000), and
Elec2 if /work/shared/data/elec2/elec.csv exists. A logistic regression (numpy + scipy L-BFGS on standardised
numeric features and one-hot region) is trained on the first 3,000 rows (Elec2: 5,000); the next 2,000 are the
reference validation set the estimators are fitted on; then windows of 1,000 rows. Error = mean |estimate -
realised accuracy| over the windows after the change (Elec2: all windows), and over all windows.

    python benchmarks/performance_estimation.py

Target: CBPE error <= half the naive error under covariate and label shift; concept drift: reported only.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import expit

from driftline.datasets import generate_stream, load_elec2
from driftline.monitors.estimation import atc_estimate, estimate_cbpe, fit_atc, fit_cbpe
from driftline.monitors.estimation.window_estimate import (
    estimate_window,
    fit_reference_estimators,
    score_histogram,
    score_of,
)
from driftline.monitors.label_shift_mlls import fit_bcts, logits_from_probabilities, mlls_prior

ELEC2 = Path("/work/shared/data/elec2/elec.csv")
WINDOW = 1000
METHODS = ("naive", "cbpe", "cbpe+mlls", "atc", "report")  # report: what the drift report says (histogram path)


def _design(frame: pd.DataFrame, label: str) -> np.ndarray:
    cols = [c for c in frame.columns if c not in (label, "timestamp")]
    parts = [
        pd.get_dummies(frame[c], prefix=c, dtype=float) if not pd.api.types.is_numeric_dtype(frame[c]) else frame[[c]]
        for c in cols
    ]
    return pd.concat(parts, axis=1).to_numpy(dtype=np.float64)


def _train(x: np.ndarray, y: np.ndarray):  # type: ignore[no-untyped-def]
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-9

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        z = (x - mean) / std
        m = z @ theta[:-1] + theta[-1]
        r = (expit(m) - y) / len(y)
        value = float(np.mean(np.logaddexp(0, m) - y * m)) + 5e-4 * float(theta[:-1] @ theta[:-1])
        return value, np.r_[z.T @ r + 1e-3 * theta[:-1], r.sum()]

    theta = minimize(loss, np.zeros(x.shape[1] + 1), jac=True, method="L-BFGS-B").x

    def proba(rows: np.ndarray) -> np.ndarray:
        p1 = expit(((rows - mean) / std) @ theta[:-1] + theta[-1])
        return np.c_[1 - p1, p1]

    return proba


def _report_estimate(fits: dict, p: np.ndarray) -> float:  # type: ignore[type-arg]
    estimate = estimate_window(fits, score_histogram(score_of(p)), n_draws=50)
    assert estimate is not None
    return float(estimate["accuracy"]["value"])


def _run(frame: pd.DataFrame, label: str, n_train: int, change_at: int | None) -> dict[str, tuple[float, float]]:
    x, y = _design(frame, label), frame[label].to_numpy(dtype=np.int64)
    proba = _train(x[:n_train], y[:n_train])
    val = slice(n_train, n_train + 2000)
    p_val = proba(x[val])
    cbpe, atc = fit_cbpe(p_val, y[val]), fit_atc(p_val, y[val])
    bcts = fit_bcts(logits_from_probabilities(p_val), y[val])
    fits = fit_reference_estimators(p_val, y[val])  # what training stores in the reference profile
    ref_prior = np.bincount(y[val], minlength=2) / 2000
    errors: dict[str, list[tuple[int, float]]] = {m: [] for m in METHODS}
    for start in range(n_train + 2000, len(frame) - WINDOW + 1, WINDOW):
        p = proba(x[start : start + WINDOW])
        truth = float((p.argmax(axis=1) == y[start : start + WINDOW]).mean())
        weights = mlls_prior(bcts.probabilities(logits_from_probabilities(p)), ref_prior).weights
        estimates = {
            "naive": cbpe.reference_accuracy,
            "cbpe": estimate_cbpe(cbpe, p, n_draws=50).metrics["accuracy"].value,
            "cbpe+mlls": estimate_cbpe(cbpe, p, n_draws=50, class_weights=weights).metrics["accuracy"].value,
            "atc": atc_estimate(atc, p).metrics["accuracy"].value,
            "report": _report_estimate(fits, p),
        }
        for name, value in estimates.items():
            errors[name].append((start, abs(value - truth)))
    after = change_at if change_at is not None else 0
    return {
        m: (float(np.mean([e for s, e in v if s >= after])), float(np.mean([e for _, e in v])))
        for m, v in errors.items()
    }


def main() -> None:
    streams: list[tuple[str, pd.DataFrame, str, int, int | None]] = []
    for scenario in ("covariate_shift", "label_shift", "concept_drift"):
        frame, truth = generate_stream(scenario, n_rows=20_000, seed=7)
        streams.append((scenario, frame, "y", 3000, truth.change_points[0]))
    if ELEC2.is_file():
        streams.append(("elec2", load_elec2(ELEC2), "class", 5000, None))
    else:
        print(f"{ELEC2} not found: Elec2 skipped")
    print(
        f"{'stream':<16}{'windows':<8}"
        + "".join(f"{m:>11}" for m in METHODS)
        + "  cbpe/naive  +mlls/naive  atc/naive  report/naive  load avg"
    )
    for name, frame, label, n_train, change_at in streams:
        start = time.perf_counter()
        result = _run(frame, label, n_train, change_at)
        load = "/".join(f"{v:.1f}" for v in os.getloadavg())
        for k, part in ((0, "after" if change_at else "all"), (1, "all")):
            if change_at is None and k == 1:
                continue
            row = "".join(f"{result[m][k]:>11.4f}" for m in METHODS)
            naive = result["naive"][k]
            print(
                f"{name:<16}{part:<8}{row}{result['cbpe'][k] / naive:>12.2f}{result['cbpe+mlls'][k] / naive:>12.2f}"
                f"{result['atc'][k] / naive:>11.2f}{result['report'][k] / naive:>14.2f}"
                f"  {load}  ({time.perf_counter() - start:.1f} s)"
            )
    print("mean absolute error of the estimated accuracy per 1,000-row window; target cbpe/naive <= 0.5 under")
    print("covariate and label shift (on the windows after the change)")


if __name__ == "__main__":
    main()
