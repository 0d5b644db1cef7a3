"""Two-proportion z test: known answers against scipy's chi-square and Newcombe's published CI."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import chi2_contingency

from driftline.core.errors import DataError
from driftline.core.stats import newcombe_interval, two_proportion, wilson_interval


@pytest.mark.parametrize("seed", range(6))
def test_z_squared_equals_uncorrected_chi_square(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_a, n_b = (int(x) for x in rng.integers(50, 5000, size=2))
    s_a, s_b = int(rng.binomial(n_a, 0.3)), int(rng.binomial(n_b, rng.uniform(0.25, 0.4)))
    r = two_proportion(s_a, n_a, s_b, n_b)
    chi2, p, _, _ = chi2_contingency([[s_a, n_a - s_a], [s_b, n_b - s_b]], correction=False)
    assert r.statistic**2 == pytest.approx(chi2, rel=1e-9)
    assert r.p_value == pytest.approx(p, rel=1e-7, abs=1e-300)
    assert r.effect == pytest.approx(s_b / n_b - s_a / n_a)
    assert math.copysign(1, r.statistic) == math.copysign(1, r.effect) or r.effect == 0


def test_newcombe_hybrid_score_known_answer() -> None:
    # Newcombe (1998), Stat Med 17:873, example 56/70 vs 48/80, method 10: 0.0524 to 0.3339.
    low, high = newcombe_interval(48, 80, 56, 70)
    assert (round(low, 4), round(high, 4)) == (0.0524, 0.3339)
    r = two_proportion(48, 80, 56, 70)
    assert (r.ci_low, r.ci_high) == (low, high)
    assert r.relative_effect == pytest.approx(0.2 / 0.6)


def test_wilson_interval_known_answer() -> None:
    # Newcombe (1998) single-proportion example: 81/263, Wilson 95% CI 0.2553 to 0.3662.
    low, high = wilson_interval(81, 263)
    assert (round(low, 4), round(high, 4)) == (0.2553, 0.3662)


def test_identical_degenerate_arms_give_p_one() -> None:
    r = two_proportion(100, 100, 50, 50)
    assert r.p_value == 1.0 and r.effect == 0.0 and not r.significant


def test_significance_follows_alpha() -> None:
    r = two_proportion(300, 1000, 345, 1000)
    assert 0.01 < r.p_value < 0.05
    assert r.significant and not two_proportion(300, 1000, 345, 1000, alpha=0.01).significant
    assert r.ci_low > 0  # the 95% CI excludes 0 like the 5% test


@pytest.mark.parametrize("args", [(5, 4, 1, 10), (-1, 10, 1, 10), (1, 0, 1, 10)])
def test_bad_counts_raise_data_error(args: tuple[int, int, int, int]) -> None:
    with pytest.raises(DataError, match="successes"):
        two_proportion(*args)


def test_to_dict_is_json_safe() -> None:
    d = two_proportion(0, 10, 3, 10).to_dict()
    assert d["relative_effect"] is None and d["significant"] in (True, False)
