"""Domain-classifier two-sample test: can a classifier tell reference rows from window rows?

Per-feature tests (KS, chi-square) see each marginal alone; a shift in how features move *together* leaves every
marginal intact. This test trains an L2 logistic regression on the standardised numeric features, their pairwise
products and squares (so changes in correlation and spread are linear in the design) and one-hot categories, to
predict "is from the window". On held-out rows its AUC is 0.5 when nothing changed; the p-value is the one-sided
Mann-Whitney test of AUC > 0.5 on the held-out scores (exact in level: the held-out rows are exchangeable under no
shift, whatever the classifier learnt). The features that separate most are the largest absolute coefficients of
the standardised design.

>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> x0 = rng.normal(size=(2, 2000))
>>> ref = pd.DataFrame({"x0": x0[0], "x1": x0[0] + 0.5 * rng.normal(size=2000)})
>>> cur = pd.DataFrame({"x0": x0[1], "x1": -x0[1] + 0.5 * rng.normal(size=2000)})
>>> res = domain_classifier_test(ref, cur)
>>> res.auc > 0.9, res.p_value < 1e-6, res.top_features[0][0]
(True, True, 'x0*x1')
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from driftline.core.errors import DataError
from driftline.core.stats import mann_whitney

__all__ = ["DomainClassifierResult", "domain_classifier_test"]

_MAX_CATEGORIES = 20  # per categorical feature; rarer values share one "other" column


@dataclass(frozen=True)
class DomainClassifierResult:
    auc: float  # held-out AUC of "window vs reference"; 0.5 = indistinguishable
    p_value: float  # one-sided, H0: AUC = 0.5
    alpha: float
    drift_detected: bool  # p_value <= alpha
    n_train: int
    n_test: int
    top_features: list[tuple[str, float]]  # (design column, |standardised coefficient|), largest first

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def domain_classifier_test(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    features: Sequence[str] | None = None,
    alpha: float = 0.01,
    interactions: bool = True,
    l2: float = 1e-3,
    max_rows: int = 20_000,
    top_k: int = 5,
    seed: int = 0,
) -> DomainClassifierResult:
    """Held-out AUC of a classifier telling ``current`` rows from ``reference`` rows, with its test against 0.5.

    ``features`` defaults to the columns both frames share; numeric columns are standardised on the reference,
    others one-hot encoded. Each frame is subsampled to ``max_rows`` and split in half: train / held out.
    ``interactions`` adds pairwise products and squares of the numeric features (up to 20 of them).
    """
    cols = list(features) if features is not None else [c for c in reference.columns if c in set(current.columns)]
    _check_inputs(reference, current, cols)
    rng = np.random.default_rng(seed)
    ref = _subsample(reference[cols], max_rows, rng)
    cur = _subsample(current[cols], max_rows, rng)
    design, names = _design(ref, cur, interactions)
    target = np.r_[np.zeros(len(ref)), np.ones(len(cur))]
    train = np.zeros(target.size, dtype=bool)
    for domain in (0.0, 1.0):  # half of each domain trains, the other half is held out
        idx = np.flatnonzero(target == domain)
        train[rng.choice(idx, size=idx.size // 2, replace=False)] = True
    mean, std = design[train].mean(axis=0), design[train].std(axis=0)
    std[std == 0] = 1.0
    z = (design - mean) / std
    coef, intercept = _fit_logistic(z[train], target[train], l2)
    score = z[~train] @ coef + intercept
    held = target[~train]
    mw = mann_whitney(score[held == 0], score[held == 1])
    auc = mw.effect + 0.5
    p_one_sided = mw.p_value / 2.0 if mw.effect > 0 else 1.0 - mw.p_value / 2.0
    order = np.argsort(-np.abs(coef))[:top_k]
    top = [(names[i], float(abs(coef[i]))) for i in order]
    return DomainClassifierResult(
        float(auc), float(p_one_sided), alpha, bool(p_one_sided <= alpha), int(train.sum()), int((~train).sum()), top
    )


def _check_inputs(reference: pd.DataFrame, current: pd.DataFrame, cols: list[str]) -> None:
    missing = [c for c in cols if c not in reference.columns or c not in current.columns]
    if not cols or missing:
        raise DataError(
            f"The domain classifier needs feature columns present in both frames; missing {missing or 'all'}.",
            "Pass features=[...] naming columns of both the reference and the window.",
        )
    if len(reference) < 20 or len(current) < 20:
        raise DataError(
            f"The domain classifier needs >= 20 rows per frame, got {len(reference)} and {len(current)}.",
            "Use a longer window.",
        )


def _subsample(frame: pd.DataFrame, max_rows: int, rng: np.random.Generator) -> pd.DataFrame:
    if len(frame) <= max_rows:
        return frame.reset_index(drop=True)
    return frame.iloc[np.sort(rng.choice(len(frame), size=max_rows, replace=False))].reset_index(drop=True)


def _design(ref: pd.DataFrame, cur: pd.DataFrame, interactions: bool) -> tuple[np.ndarray, list[str]]:
    """Rows of ref then cur: numeric standardised on ref (NaN -> 0 plus a missing indicator), products, one-hots."""
    both = pd.concat([ref, cur], ignore_index=True)
    blocks: list[np.ndarray] = []
    names: list[str] = []
    numeric = [c for c in both.columns if pd.api.types.is_numeric_dtype(both[c]) and both[c].dtype != bool]
    standard: dict[str, np.ndarray] = {}
    for col in numeric:
        values = both[col].to_numpy(dtype=np.float64, copy=True)
        values[~np.isfinite(values)] = np.nan
        ref_values = values[: len(ref)]
        centre, scale = np.nanmean(ref_values), np.nanstd(ref_values)
        z = (values - centre) / (scale if scale > 0 else 1.0)
        missing = np.isnan(z)
        standard[col] = np.where(missing, 0.0, z)
        if missing.any():
            blocks.append(missing.astype(np.float64))
            names.append(f"{col} is missing")
    blocks.extend(standard.values())
    names.extend(standard)
    if interactions and 1 <= len(standard) <= 20:
        for a, b in combinations(standard, 2):
            blocks.append(standard[a] * standard[b])
            names.append(f"{a}*{b}")
        for a in standard:
            blocks.append(standard[a] ** 2)
            names.append(f"{a}^2")
    for col in (c for c in both.columns if c not in standard):
        values = both[col].astype(str)
        kept = values.value_counts().index[:_MAX_CATEGORIES]
        for category in kept:
            blocks.append((values == category).to_numpy(dtype=np.float64))
            names.append(f"{col}={category}")
        if len(kept) < values.nunique():
            blocks.append((~values.isin(kept)).to_numpy(dtype=np.float64))
            names.append(f"{col}=<other>")
    return np.column_stack(blocks), names


def _fit_logistic(x: np.ndarray, y: np.ndarray, l2: float) -> tuple[np.ndarray, float]:
    """Class-balanced L2 logistic regression by L-BFGS; returns (coefficients, intercept)."""
    weight = np.where(y == 1, 0.5 / max(y.mean(), 1e-12), 0.5 / max(1 - y.mean(), 1e-12)) / len(y)

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        coef, b = theta[:-1], theta[-1]
        margin = x @ coef + b
        # log(1 + exp(m)) - y m, stably
        value = float((weight * (np.logaddexp(0.0, margin) - y * margin)).sum()) + 0.5 * l2 * float(coef @ coef)
        residual = weight * (1.0 / (1.0 + np.exp(-margin)) - y)
        return value, np.r_[x.T @ residual + l2 * coef, residual.sum()]

    result = minimize(loss, np.zeros(x.shape[1] + 1), jac=True, method="L-BFGS-B")
    return result.x[:-1], float(result.x[-1])
