"""Concept-drift evidence from labels: accuracy in the window vs the model's validation baseline.

The claim "the model decayed" needs three things: enough labelled rows (``min_labelled``), a one-sided exact
binomial test of ``accuracy < baseline`` below ``alpha``, and a drop of at least ``min_drop`` (so a 0.1-point
dip over a million labels is not called decay). The interval is Wilson's score interval. The baseline is treated
as exact; its own validation noise (``baseline['n']`` rows) is reported, not tested.

>>> import numpy as np
>>> from driftline.monitors.drift_config import PerformanceConfig
>>> sec = performance_section({"accuracy": 0.9, "n": 1000}, np.array([[300, 100], [100, 300]]), PerformanceConfig())
>>> sec["current"], sec["decayed"]
(0.75, True)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from driftline.core.stats import wilson_interval
from driftline.monitors.drift_config import PerformanceConfig

__all__ = ["performance_section"]


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
