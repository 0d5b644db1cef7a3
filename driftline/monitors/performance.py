"""Concept-drift evidence from labels: accuracy (regression: RMSE and MAE) in the window vs the model's validation
baseline.

The claim "the model decayed" needs three things: enough labelled rows (``min_labelled``), a one-sided exact
binomial test of ``accuracy < baseline`` below ``alpha``, and a drop of at least ``min_drop`` (so a 0.1-point
dip over a million labels is not called decay). The interval is Wilson's score interval. The baseline is treated
as exact; its own validation noise (``baseline['n']`` rows) is reported, not tested.

>>> import numpy as np
>>> from driftline.monitors.drift_config import PerformanceConfig
>>> sec = performance_section({"accuracy": 0.9, "n": 1000}, np.array([[300, 100], [100, 300]]), PerformanceConfig())
>>> sec["current"], sec["decayed"]
(0.75, True)

For a regression model the same claim is made on error metrics, which rise when the model decays: a one-sided
z-test of "MAE above baseline" on the window's absolute errors, and of "MSE above baseline MSE" on its squared
errors (RMSE's interval is the square root of MSE's), with a decay needing a relative rise of at least
``min_relative_increase``. Both metrics are reported under ``metrics``; ``regression_metric`` is the headline.

>>> from driftline.monitors.summaries import ResidualSummary
>>> errors = np.random.default_rng(0).normal(0, 1.5, 2000)
>>> sec = regression_performance_section({"rmse": 1.0, "mae": 0.8, "n": 500}, ResidualSummary.from_errors(errors),
...                                      PerformanceConfig())
>>> sec["metric"], round(sec["current"], 1), sec["decayed"], sec["metrics"]["mae"]["decayed"]
('rmse', 1.5, True, True)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from driftline.core.stats import wilson_interval
from driftline.core.stats.result import normal_quantile
from driftline.monitors.drift_config import PerformanceConfig
from driftline.monitors.summaries import ResidualSummary

__all__ = ["performance_section", "regression_performance_section"]


def performance_section(baseline: dict[str, float], joint: np.ndarray, cfg: PerformanceConfig) -> dict[str, Any] | None:
    """The report's ``performance`` section, or None without a baseline accuracy or labelled predictions."""
    n = int(joint.sum())
    if "accuracy" not in baseline or n == 0:
        return None
    k = int(np.trace(joint))
    base = float(baseline["accuracy"])
    current = k / n
    low, high = wilson_interval(k, n, alpha=1.0 - cfg.confidence)
    from scipy.stats import binomtest  # only when labels arrived: scipy.stats costs 0.7 s to import

    p = float(binomtest(k, n, base, alternative="less").pvalue) if 0 < base < 1 else 1.0
    enough = n >= cfg.min_labelled
    decayed = bool(enough and base - current >= cfg.min_drop and p < cfg.alpha)
    return {
        "metric": "accuracy",
        "baseline": base,
        "baseline_n": int(baseline["n"]) if "n" in baseline else None,
        "baseline_trained_rows": int(baseline["trained_rows"]) if "trained_rows" in baseline else None,
        "current": current,
        "ci_low": low,
        "ci_high": high,
        "confidence": cfg.confidence,
        "p_value": p,
        "n": n,
        "decayed": decayed,
        "min_drop": cfg.min_drop,
        "alpha": cfg.alpha,
        "reason": None if enough else f"only {n} labelled rows (< min_labelled={cfg.min_labelled}): not judged",
    }


def _normal_sf(z: float) -> float:
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def _error_metric(
    name: str, base: float, mean: float, var: float, n: int, cfg: PerformanceConfig, root: bool
) -> dict[str, Any]:
    """One error metric: mean of per-row errors (absolute, or squared when ``root``) tested against the baseline."""
    target = base * base if root else base
    se = math.sqrt(var / n) if n > 1 and math.isfinite(var) else math.nan
    z_ci = normal_quantile(0.5 + cfg.confidence / 2.0)
    if math.isfinite(se) and se > 0:
        p = _normal_sf((mean - target) / se)
        low, high = mean - z_ci * se, mean + z_ci * se
    else:  # one row, or every error equal: the mean is all there is
        p = 0.0 if mean > target else 1.0
        low = high = mean
    fix = (lambda v: math.sqrt(max(v, 0.0))) if root else (lambda v: v)
    current = fix(mean)
    enough = n >= cfg.min_labelled
    rise = (current - base) / base if base > 0 else (math.inf if current > 0 else 0.0)
    decayed = bool(enough and rise >= cfg.min_relative_increase and p < cfg.alpha)
    return {
        "metric": name,
        "baseline": base,
        "current": current,
        "ci_low": fix(low),
        "ci_high": fix(high),
        "p_value": p,
        "relative_increase": rise if math.isfinite(rise) else None,
        "decayed": decayed,
    }


def regression_performance_section(
    baseline: dict[str, float], residuals: ResidualSummary, cfg: PerformanceConfig
) -> dict[str, Any] | None:
    """The report's ``performance`` section for a regression model, or None without a baseline or scored rows."""
    n = residuals.n
    if n == 0 or "rmse" not in baseline or "mae" not in baseline:
        return None
    metrics = {
        "rmse": _error_metric("rmse", float(baseline["rmse"]), residuals.mse, residuals.sq_var, n, cfg, root=True),
        "mae": _error_metric("mae", float(baseline["mae"]), residuals.mae, residuals.abs_var, n, cfg, root=False),
    }
    head = metrics[cfg.regression_metric]
    enough = n >= cfg.min_labelled
    return {
        **head,
        "baseline_n": int(baseline["n"]) if "n" in baseline else None,
        "baseline_trained_rows": int(baseline["trained_rows"]) if "trained_rows" in baseline else None,
        "confidence": cfg.confidence,
        "n": n,
        "min_relative_increase": cfg.min_relative_increase,
        "alpha": cfg.alpha,
        "metrics": metrics,
        "reason": None if enough else f"only {n} labelled rows (< min_labelled={cfg.min_labelled}): not judged",
    }
