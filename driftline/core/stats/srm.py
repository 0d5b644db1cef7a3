"""Sample-ratio mismatch (SRM): Pearson chi-square of observed arm sizes against the configured split.

A mismatch means assignment or logging is broken (a bot hitting one arm, a crashing variant dropping its
requests), so any effect estimate is untrustworthy. The default alpha is strict (0.001) because the check
runs at every tick. ``effect`` is the last group's observed share minus its configured share (the candidate's
in a champion/candidate split), with a Wilson CI around the observed share shifted the same way.

>>> srm([5000, 5000], [0.5, 0.5]).significant
False
>>> srm([5400, 4600], [0.5, 0.5]).significant
True
"""

from __future__ import annotations

from collections.abc import Sequence

from scipy.special import chdtrc  # chi2.sf(x, df) == chdtrc(df, x); scipy.stats costs 0.7 s to import

from driftline.core.errors import DataError
from driftline.core.stats.result import StatResult, check_alpha
from driftline.core.stats.two_proportion import wilson_interval

__all__ = ["srm", "srm_shares"]


def srm_shares(observed: Sequence[int], expected_shares: Sequence[float]) -> list[float]:
    """The configured shares normalised to sum to 1, after checking both inputs (shared by both SRM tests)."""
    if len(observed) != len(expected_shares) or len(observed) < 2:
        raise DataError(
            f"SRM needs >= 2 groups and one share per group, got {len(observed)} counts and "
            f"{len(expected_shares)} shares.",
            "Pass e.g. srm([n_champion, n_candidate], [0.9, 0.1]).",
        )
    if any(c < 0 for c in observed) or any(not (s > 0) for s in expected_shares):
        raise DataError("SRM counts must be >= 0 and configured shares > 0.", "A 0% arm cannot be checked.")
    share_sum = float(sum(expected_shares))
    return [s / share_sum for s in expected_shares]


def srm(observed: Sequence[int], expected_shares: Sequence[float], alpha: float = 0.001) -> StatResult:
    """Chi-square goodness of fit of ``observed`` counts to ``expected_shares`` (normalised to sum to 1)."""
    shares = srm_shares(observed, expected_shares)
    alpha = check_alpha(alpha)
    total = float(sum(observed))
    if total <= 0:
        raise DataError("SRM got no observations.", "Wait until requests have been served.")
    chi2 = sum((o - total * s) ** 2 / (total * s) for o, s in zip(observed, shares, strict=True))
    p = float(chdtrc(len(observed) - 1, chi2))
    last, expected_last = int(observed[-1]), shares[-1]
    low, high = wilson_interval(last, int(total), min(alpha, 0.5))
    return StatResult(
        test="srm_chi_square",
        statistic=chi2,
        p_value=p,
        effect=last / total - expected_last,
        ci_low=low - expected_last,
        ci_high=high - expected_last,
        alpha=alpha,
        relative_effect=(last / total - expected_last) / expected_last,
        n_a=int(total) - last,
        n_b=last,
    )
