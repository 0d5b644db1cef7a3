"""A sequential sample-ratio-mismatch test: an always-valid p-value, safe to look at after every tick.

The fixed chi-square of :func:`~driftline.core.stats.srm.srm` is valid for one look; a rollout looks every second,
so its false-alarm rate grows with the looks. Here the evidence is the Dirichlet-multinomial Bayes factor of the
observed counts against the configured shares (Lindon & Malek 2022, "Anytime-Valid Inference for Multinomial
Count Data"): under no mismatch it is a nonnegative martingale, so by Ville's inequality
``P(sup_t BF_t >= 1/alpha) <= alpha`` whatever the number of looks. The p-value is ``min(1, 1/BF)``, kept as the
running minimum across looks (``previous_p_value``).

>>> srm_sequential([5000, 5000], [0.5, 0.5]).significant
False
>>> srm_sequential([5400, 4600], [0.5, 0.5]).significant
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from driftline.core.stats.result import StatResult, check_alpha
from driftline.core.stats.srm import srm_shares

__all__ = ["srm_sequential"]


def _log_bayes_factor(counts: Sequence[int], shares: Sequence[float], concentration: float) -> float:
    prior = [concentration * s for s in shares]
    n = sum(counts)
    log_marginal = math.lgamma(sum(prior)) - math.lgamma(sum(prior) + n)
    log_marginal += sum(math.lgamma(a + c) - math.lgamma(a) for a, c in zip(prior, counts, strict=True))
    log_null = sum(c * math.log(s) for c, s in zip(counts, shares, strict=True) if c)
    return log_marginal - log_null


def srm_sequential(
    observed: Sequence[int],
    expected_shares: Sequence[float],
    alpha: float = 0.001,
    previous_p_value: float = 1.0,
    concentration: float = 100.0,
) -> StatResult:
    """Always-valid SRM test of cumulative ``observed`` counts; ``concentration`` sets the prior's spread
    (``alpha_i = concentration * share_i``: it trades power between small and large mismatches, never validity)."""
    shares = srm_shares(observed, expected_shares)
    alpha = check_alpha(alpha)
    total = int(sum(observed))
    log_bf = _log_bayes_factor([int(c) for c in observed], shares, concentration)
    p = min(1.0, float(previous_p_value), math.exp(-log_bf) if log_bf < 700 else 0.0)
    last = int(observed[-1])
    share = last / total if total else shares[-1]
    return StatResult(
        test="srm_sequential_dirichlet",
        statistic=log_bf,
        p_value=p,
        effect=share - shares[-1],
        ci_low=math.nan,
        ci_high=math.nan,
        alpha=alpha,
        relative_effect=(share - shares[-1]) / shares[-1],
        n_a=total - last,
        n_b=last,
    )
