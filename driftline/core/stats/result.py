"""The one result shape every online test returns, plus small shared helpers.

Convention for two-sample tests: ``a`` is the champion (control), ``b`` the candidate, and ``effect`` is
``b - a`` (candidate minus champion), so a positive effect means the candidate's metric is higher.

>>> r = StatResult("demo", statistic=2.0, p_value=0.04, effect=0.1, ci_low=0.01, ci_high=0.19, alpha=0.05)
>>> r.significant, r.to_dict()["effect"]
(True, 0.1)
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from statistics import NormalDist
from typing import Any

from driftline.core.errors import DataError

__all__ = ["StatResult", "normal_quantile", "normal_two_sided_p"]


@dataclass(frozen=True)
class StatResult:
    """Statistic, p-value, effect (b - a) with its CI; ``significant`` is ``p_value <= alpha``."""

    test: str
    statistic: float
    p_value: float
    effect: float
    ci_low: float
    ci_high: float
    alpha: float
    relative_effect: float = math.nan
    n_a: int = 0
    n_b: int = 0

    @property
    def significant(self) -> bool:
        return self.p_value <= self.alpha

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (non-finite numbers become None) for rollout evidence."""
        out = asdict(self)
        for key, value in out.items():
            if isinstance(value, float) and not math.isfinite(value):
                out[key] = None
        out["significant"] = self.significant
        return out


_STD_NORMAL = NormalDist()


def normal_two_sided_p(z: float) -> float:
    """Two-sided p-value of a standard-normal statistic (erfc keeps precision in the tails)."""
    if math.isnan(z):
        return 1.0
    return min(1.0, math.erfc(abs(z) / math.sqrt(2.0)))


def normal_quantile(q: float) -> float:
    """Inverse standard-normal CDF."""
    return _STD_NORMAL.inv_cdf(q)


def check_alpha(alpha: float) -> float:
    if not 0.0 < alpha < 1.0:
        raise DataError(f"alpha={alpha!r} is outside (0, 1).", "Pass a significance level such as 0.05.")
    return float(alpha)


def check_count(name: str, successes: int, n: int) -> None:
    if n <= 0 or successes < 0 or successes > n:
        raise DataError(
            f"{name}: got {successes} successes out of {n} trials.",
            "Counts must satisfy 0 <= successes <= n and n >= 1.",
        )
