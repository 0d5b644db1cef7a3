"""Sample-ratio mismatch: known answers against scipy.stats.chisquare."""

from __future__ import annotations

import pytest
from scipy import stats

from driftline.core.errors import DataError
from driftline.core.stats import srm


@pytest.mark.parametrize(
    ("observed", "shares"),
    [([4950, 5050], [0.5, 0.5]), ([9120, 880], [0.9, 0.1]), ([300, 320, 410], [0.3, 0.3, 0.4]), ([700, 300], [1, 1])],
)
def test_matches_scipy_chisquare(observed: list[int], shares: list[float]) -> None:
    total = sum(observed)
    expected = [total * s / sum(shares) for s in shares]
    ref = stats.chisquare(observed, f_exp=expected)
    r = srm(observed, shares)
    assert r.statistic == pytest.approx(ref.statistic) and r.p_value == pytest.approx(ref.pvalue, rel=1e-9)
    assert r.effect == pytest.approx(observed[-1] / total - shares[-1] / sum(shares))


def test_verdicts() -> None:
    assert not srm([9000, 1000], [0.9, 0.1]).significant
    bad = srm([9200, 800], [0.9, 0.1])
    assert bad.significant and bad.effect < 0 and bad.ci_high < 0


def test_bad_input() -> None:
    with pytest.raises(DataError, match="one share per group"):
        srm([1, 2, 3], [0.5, 0.5])
    with pytest.raises(DataError, match="0% arm"):
        srm([10, 0], [1.0, 0.0])
    with pytest.raises(DataError, match="no observations"):
        srm([0, 0], [0.5, 0.5])


def test_sequential_srm_keeps_its_false_alarm_rate_over_many_looks() -> None:
    """300 A/A rollouts, each looked at 100 times: the sequential guard stays at alpha, the fixed one does not."""
    import numpy as np

    from driftline.core.stats import srm_sequential

    rng = np.random.default_rng(0)
    alpha, runs, looks, per_look = 0.01, 300, 100, 50
    sequential_alarms = fixed_alarms = 0
    for _ in range(runs):
        cand = np.cumsum(rng.binomial(per_look, 0.5, size=looks))
        total = per_look * np.arange(1, looks + 1)
        p, seq_hit, fixed_hit = 1.0, False, False
        for c, n in zip(cand, total, strict=True):
            p = srm_sequential([int(n - c), int(c)], [0.5, 0.5], alpha=alpha, previous_p_value=p).p_value
            seq_hit |= p <= alpha
            fixed_hit |= srm([int(n - c), int(c)], [0.5, 0.5], alpha=alpha).significant
        sequential_alarms += seq_hit
        fixed_alarms += fixed_hit
    assert sequential_alarms / runs <= alpha + 3 * (alpha * (1 - alpha) / runs) ** 0.5
    assert fixed_alarms / runs > 3 * alpha  # why the guard must be sequential: every look is another chance


def test_sequential_srm_finds_a_real_mismatch() -> None:
    from driftline.core.stats import srm_sequential

    assert srm_sequential([10_400, 9_600], [0.5, 0.5], alpha=0.001).significant  # 48% instead of 50%
    assert not srm_sequential([10_050, 9_950], [0.5, 0.5], alpha=0.001).significant
