"""Mixture sequential probability ratio test (mSPRT) with always-valid p-values (Johari et al. 2017).

"Peeking at A/B tests" (Johari, Koomen, Pekelis, Walsh, KDD 2017): put a normal mixture
``theta ~ N(0, tau**2)`` over the true difference ``theta = mean_b - mean_a``. With the estimate ``d`` and its
variance ``V = var_a/n_a + var_b/n_b``, the mixture likelihood ratio against ``theta = 0`` is

    Lambda = sqrt(V / (V + tau**2)) * exp(tau**2 * d**2 / (2 * V * (V + tau**2)))

and ``p_n = min(p_{n-1}, 1 / Lambda_n)`` is an always-valid p-value: stopping the first time ``p_n <= alpha``,
however often one looks, keeps the false-positive rate at or below ``alpha``. The p-value never increases.
The CI is the matching confidence sequence ``{theta0 : Lambda(theta0) < 1/alpha}``, valid at every look.

``tau`` is the mixing standard deviation in the units of the difference; larger tau is tuned to larger effects.
Proportions use the normal approximation (pooled variance for the p-value, unpooled for the CI).

>>> r = msprt_two_proportion(400, 1000, 480, 1000, tau=0.05)
>>> r.significant, round(r.effect, 2)
(True, 0.08)
>>> msprt_two_proportion(400, 1000, 405, 1000, tau=0.05, previous_p_value=0.2).p_value
0.2
"""

from __future__ import annotations

import math

from driftline.core.errors import DataError
from driftline.core.stats.result import StatResult, check_alpha, check_count

__all__ = ["msprt_log_likelihood_ratio", "msprt_normal", "msprt_two_proportion"]


def msprt_log_likelihood_ratio(effect: float, variance: float, tau: float, theta0: float = 0.0) -> float:
    """log Lambda of the normal-mixture SPRT for an estimate ``effect`` with sampling variance ``variance``."""
    if variance <= 0:
        return 0.0 if effect == theta0 else math.inf
    t2 = tau * tau
    return 0.5 * math.log(variance / (variance + t2)) + t2 * (effect - theta0) ** 2 / (2.0 * variance * (variance + t2))


def _confidence_sequence(effect: float, variance: float, tau: float, alpha: float) -> tuple[float, float]:
    if variance <= 0:
        return effect, effect
    t2 = tau * tau
    half = math.sqrt(
        variance * (variance + t2) / t2 * (2.0 * math.log(1.0 / alpha) + math.log((variance + t2) / variance))
    )
    return effect - half, effect + half


def _result(
    effect: float,
    v_null: float,
    v_ci: float,
    tau: float,
    alpha: float,
    previous: float,
    base: float,
    n_a: int,
    n_b: int,
) -> StatResult:
    if not tau > 0:
        raise DataError(f"mSPRT mixing sd tau={tau!r} must be > 0.", "Pick the size of effect you care about.")
    if not 0.0 < previous <= 1.0:
        raise DataError(f"previous_p_value={previous!r} must be in (0, 1].", "Start a new test with 1.0.")
    alpha = check_alpha(alpha)
    log_lr = msprt_log_likelihood_ratio(effect, v_null, tau)
    p = min(previous, 1.0, math.exp(-log_lr) if log_lr < 700 else 0.0)
    low, high = _confidence_sequence(effect, v_ci, tau, alpha)
    return StatResult("msprt", log_lr, p, effect, low, high, alpha, effect / base if base else math.nan, n_a, n_b)


def msprt_two_proportion(
    successes_a: int,
    n_a: int,
    successes_b: int,
    n_b: int,
    *,
    tau: float,
    alpha: float = 0.05,
    previous_p_value: float = 1.0,
) -> StatResult:
    """mSPRT on two proportions; ``statistic`` is log Lambda, ``p_value`` the running always-valid p."""
    check_count("msprt arm a", successes_a, n_a)
    check_count("msprt arm b", successes_b, n_b)
    p_a, p_b = successes_a / n_a, successes_b / n_b
    pooled = (successes_a + successes_b) / (n_a + n_b)
    v_null = pooled * (1.0 - pooled) * (1.0 / n_a + 1.0 / n_b)
    v_ci = p_a * (1.0 - p_a) / n_a + p_b * (1.0 - p_b) / n_b
    return _result(p_b - p_a, v_null, v_ci, tau, alpha, previous_p_value, p_a, n_a, n_b)


def msprt_normal(
    mean_a: float,
    var_a: float,
    n_a: int,
    mean_b: float,
    var_b: float,
    n_b: int,
    *,
    tau: float,
    alpha: float = 0.05,
    previous_p_value: float = 1.0,
) -> StatResult:
    """mSPRT on two means (continuous metric) from means, per-observation variances and sizes."""
    if n_a < 2 or n_b < 2 or var_a < 0 or var_b < 0:
        raise DataError(f"mSPRT needs n >= 2 per arm and variances >= 0, got n_a={n_a}, n_b={n_b}.", "Wait.")
    v = var_a / n_a + var_b / n_b
    return _result(mean_b - mean_a, v, v, tau, alpha, previous_p_value, mean_a, n_a, n_b)
