"""Two-proportion z test with a Newcombe hybrid-score CI for the difference and the relative effect.

The z statistic uses the pooled standard error (so ``z**2`` equals Pearson's chi-square on the 2x2 table
without Yates' correction). The CI for ``p_b - p_a`` is Newcombe's (1998) method 10, built from the two
Wilson score intervals: unlike Wald it keeps its coverage near 0 and 1 and for small samples.

>>> r = two_proportion(48, 80, 56, 70)   # champion 48/80, candidate 56/70
>>> round(r.effect, 4), round(r.ci_low, 4), round(r.ci_high, 4)
(0.2, 0.0524, 0.3339)
"""

from __future__ import annotations

import math

from driftline.core.stats.result import (
    StatResult,
    check_alpha,
    check_count,
    normal_quantile,
    normal_two_sided_p,
)

__all__ = ["newcombe_interval", "two_proportion", "wilson_interval"]


def wilson_interval(successes: int, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """Wilson score interval for one proportion."""
    check_count("wilson_interval", successes, n)
    z = normal_quantile(1.0 - check_alpha(alpha) / 2.0)
    p = successes / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2.0 * n)) / denom
    half = z / denom * math.sqrt(p * (1.0 - p) / n + z * z / (4.0 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe_interval(
    successes_a: int, n_a: int, successes_b: int, n_b: int, alpha: float = 0.05
) -> tuple[float, float]:
    """Newcombe hybrid-score CI (method 10) for ``p_b - p_a``."""
    p_a, p_b = successes_a / n_a, successes_b / n_b
    l_a, u_a = wilson_interval(successes_a, n_a, alpha)
    l_b, u_b = wilson_interval(successes_b, n_b, alpha)
    diff = p_b - p_a
    low = diff - math.sqrt((p_b - l_b) ** 2 + (u_a - p_a) ** 2)
    high = diff + math.sqrt((u_b - p_b) ** 2 + (p_a - l_a) ** 2)
    return low, high


def two_proportion(successes_a: int, n_a: int, successes_b: int, n_b: int, alpha: float = 0.05) -> StatResult:
    """Two-sided pooled z test of ``p_a == p_b``; effect ``p_b - p_a``, relative effect ``effect / p_a``."""
    check_count("two_proportion arm a", successes_a, n_a)
    check_count("two_proportion arm b", successes_b, n_b)
    alpha = check_alpha(alpha)
    p_a, p_b = successes_a / n_a, successes_b / n_b
    pooled = (successes_a + successes_b) / (n_a + n_b)
    se = math.sqrt(pooled * (1.0 - pooled) * (1.0 / n_a + 1.0 / n_b))
    # se == 0 only when both arms are all-success or all-failure, i.e. identical proportions.
    z = (p_b - p_a) / se if se > 0 else 0.0
    low, high = newcombe_interval(successes_a, n_a, successes_b, n_b, alpha)
    return StatResult(
        test="two_proportion_z",
        statistic=z,
        p_value=normal_two_sided_p(z),
        effect=p_b - p_a,
        ci_low=low,
        ci_high=high,
        alpha=alpha,
        relative_effect=(p_b - p_a) / p_a if p_a > 0 else math.nan,
        n_a=n_a,
        n_b=n_b,
    )
