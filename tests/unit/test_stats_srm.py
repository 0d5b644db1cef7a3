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
