"""Welch's t test: known answers against scipy.stats.ttest_ind(equal_var=False)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from driftline.core.errors import DataError
from driftline.core.stats import welch, welch_from_stats


@pytest.mark.parametrize("seed", range(5))
def test_matches_scipy_on_samples(seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = rng.normal(10.0, 2.0, size=int(rng.integers(5, 300)))
    b = rng.normal(10.5, 4.0, size=int(rng.integers(5, 300)))
    r = welch(a, b, alpha=0.1)
    ref = stats.ttest_ind(b, a, equal_var=False)
    assert r.statistic == pytest.approx(ref.statistic, rel=1e-10)
    assert r.p_value == pytest.approx(ref.pvalue, rel=1e-9)
    ci = ref.confidence_interval(confidence_level=0.9)
    assert (r.ci_low, r.ci_high) == pytest.approx((ci.low, ci.high), rel=1e-9)
    assert r.effect == pytest.approx(b.mean() - a.mean())


def test_from_stats_matches_scipy() -> None:
    r = welch_from_stats(1.2, 0.5, 40, 1.0, 0.9, 25)
    ref = stats.ttest_ind_from_stats(1.0, 0.9**0.5, 25, 1.2, 0.5**0.5, 40, equal_var=False)
    assert r.statistic == pytest.approx(ref.statistic) and r.p_value == pytest.approx(ref.pvalue)


def test_constant_arms() -> None:
    assert welch([1.0, 1.0], [1.0, 1.0]).p_value == 1.0
    r = welch([1.0, 1.0], [2.0, 2.0])
    assert r.p_value == 0.0 and r.ci_low == r.ci_high == 1.0


def test_too_few_or_bad_values() -> None:
    with pytest.raises(DataError, match=">= 2 observations"):
        welch([1.0], [1.0, 2.0])
    with pytest.raises(DataError, match="NaN"):
        welch([1.0, float("nan")], [1.0, 2.0])
