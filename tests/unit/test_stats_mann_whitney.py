"""Mann-Whitney U: known answers against scipy (asymptotic, tie- and continuity-corrected)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from driftline.core.errors import DataError
from driftline.core.stats import mann_whitney, mann_whitney_from_counts


@pytest.mark.parametrize(("seed", "ties"), [(0, False), (1, False), (2, True), (3, True)])
def test_matches_scipy(seed: int, ties: bool) -> None:
    rng = np.random.default_rng(seed)
    a = rng.normal(0.0, 1.0, size=120)
    b = rng.normal(0.3, 1.0, size=80)
    if ties:
        a, b = np.round(a * 2), np.round(b * 2)
    r = mann_whitney(a, b)
    ref = stats.mannwhitneyu(b, a, method="asymptotic", use_continuity=True, alternative="two-sided")
    assert r.statistic == pytest.approx(ref.statistic)
    assert r.p_value == pytest.approx(ref.pvalue, rel=1e-9)
    assert r.effect == pytest.approx(ref.statistic / (a.size * b.size) - 0.5)


def test_binned_counts_equal_expanded_samples() -> None:
    counts_a, counts_b = [5, 0, 12, 30, 3], [1, 4, 8, 10, 20]
    values = np.arange(5)
    r = mann_whitney_from_counts(counts_a, counts_b)
    ref = stats.mannwhitneyu(np.repeat(values, counts_b), np.repeat(values, counts_a), method="asymptotic")
    assert r.statistic == pytest.approx(ref.statistic) and r.p_value == pytest.approx(ref.pvalue)


def test_all_tied_is_not_significant() -> None:
    assert mann_whitney([1.0, 1.0, 1.0], [1.0, 1.0]).p_value == 1.0


def test_bad_input() -> None:
    with pytest.raises(DataError, match="equal length"):
        mann_whitney_from_counts([1, 2], [1])
    with pytest.raises(DataError, match="per arm"):
        mann_whitney_from_counts([0, 0], [1, 1])
