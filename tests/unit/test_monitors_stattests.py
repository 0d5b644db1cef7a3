"""Known-answer tests of the batch drift tests against scipy/numpy on seeded data, plus the plug-in contract."""

from __future__ import annotations

import inspect
import pickle

import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from driftline.datasets.schema import FeatureKind
from driftline.monitors.profile import _numeric_profile
from driftline.monitors.stattests import STAT_TESTS, TestResult, chi2, coarse_counts, coarse_edge_index, ks, psi
from driftline.monitors.stattests import jensen_shannon as js_test
from driftline.monitors.stattests import wasserstein as w_test
from driftline.monitors.stattests.chi2 import expected_counts
from driftline.monitors.stattests.ks import EXACT_LIMIT
from driftline.monitors.summaries import CategoricalSummary, NumericSummary

N_BINS = 1000


def _pair(ref: np.ndarray, cur: np.ndarray) -> tuple[NumericSummary, NumericSummary]:
    profile = _numeric_profile(ref, N_BINS)
    return profile, NumericSummary.from_values(cur, profile.edges, profile.mean)


CASES = {
    "same": lambda r: (r.normal(0, 1, 20_000), r.normal(0, 1, 5_000)),
    "mean_shift": lambda r: (r.normal(0, 1, 20_000), r.normal(0.3, 1, 5_000)),
    "scale": lambda r: (r.normal(0, 1, 20_000), r.normal(0, 1.5, 5_000)),
    "far_shift": lambda r: (r.normal(0, 1, 20_000), r.normal(4.0, 1, 5_000)),
    "lognormal": lambda r: (r.lognormal(0, 1, 20_000), r.lognormal(0.2, 1, 5_000)),
    "integers": lambda r: (r.integers(0, 20, 20_000).astype(float), r.integers(2, 22, 5_000).astype(float)),
    "small_window": lambda r: (r.normal(0, 1, 20_000), r.normal(0.2, 1, 150)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_ks_matches_scipy_within_documented_bound(case: str) -> None:
    ref, cur = CASES[case](np.random.default_rng(11))
    exact = stats.ks_2samp(ref, cur, method="asymp")
    r = ks(*_pair(ref, cur), 0.1)
    assert r.max_error is not None
    # histogram D never exceeds the exact one and misses at most the computed bound
    assert r.statistic <= exact.statistic + 1e-12
    assert exact.statistic - r.statistic <= r.max_error + 1e-12
    # with 1000 quantile bins the bound is ~1/n_bins unless the window piles into a few bins (then D is large)
    if case not in ("far_shift",):
        assert r.max_error <= 3.0 / N_BINS + 2.0 / len(cur) ** 0.5 * 0.05
    n, m = len(ref), len(cur)
    en = n * m / (n + m)
    # same statistic -> same p-value as scipy's asymptotic mode (kstwo below EXACT_LIMIT)
    assert en <= EXACT_LIMIT
    expected_p = stats.kstwo.sf(r.statistic, np.round(en))
    assert r.p_value == pytest.approx(expected_p, rel=1e-9, abs=1e-300)


def test_ks_exact_on_discrete_data() -> None:
    # integer data: every value is an edge, so the edge CDFs are the exact CDFs and D matches exactly
    rng = np.random.default_rng(3)
    ref, cur = rng.integers(0, 30, 50_000).astype(float), rng.integers(1, 31, 4_000).astype(float)
    r = ks(*_pair(ref, cur), 0.1)
    assert r.statistic == pytest.approx(stats.ks_2samp(ref, cur).statistic, abs=1e-12)


def test_ks_large_sample_p_value_uses_kolmogorov_limit() -> None:
    rng = np.random.default_rng(5)
    ref, cur = rng.normal(0, 1, 200_000), rng.normal(0.005, 1, 200_000)
    r = ks(*_pair(ref, cur), 0.1)
    exact = stats.ks_2samp(ref, cur, method="asymp")
    assert exact.statistic - r.statistic <= r.max_error + 1e-12
    assert r.p_value == pytest.approx(stats.kstwo.sf(r.statistic, 100_000), rel=0.02)


@pytest.mark.parametrize("case", sorted(CASES))
def test_psi_equals_direct_numpy_on_same_bins(case: str) -> None:
    ref, cur = CASES[case](np.random.default_rng(12))
    rs, cs = _pair(ref, cur)
    edges = rs.edges[coarse_edge_index(rs, 10)]
    p = np.bincount(np.searchsorted(edges, ref, side="left"), minlength=len(edges) + 1) / len(ref)
    q = np.bincount(np.searchsorted(edges, cur, side="left"), minlength=len(edges) + 1) / len(cur)
    p, q = np.maximum(p, 1e-4), np.maximum(q, 1e-4)
    expected = float(np.sum((q - p) * np.log(q / p)))
    assert psi(rs, cs, 0.1).statistic == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_psi_bins_are_reference_deciles() -> None:
    ref = np.random.default_rng(1).normal(size=100_000)
    rs = _numeric_profile(ref, N_BINS)
    edges = rs.edges[coarse_edge_index(rs, 10)]
    np.testing.assert_allclose(edges, np.quantile(ref, np.arange(1, 10) / 10), rtol=0, atol=1e-12)


@pytest.mark.parametrize("case", ["same", "mean_shift", "scale", "far_shift", "lognormal"])
def test_wasserstein_close_to_scipy_within_bound(case: str) -> None:
    ref, cur = CASES[case](np.random.default_rng(13))
    rs, cs = _pair(ref, cur)
    r = w_test(rs, cs, 0.1)
    exact = stats.wasserstein_distance(ref, cur) / rs.std
    assert r.max_error is not None
    assert r.statistic <= exact + 1e-9  # never above the exact W1
    assert exact - r.statistic <= r.max_error + 1e-9
    assert exact - r.statistic <= 0.01  # documented: small in practice (in reference standard deviations)


def test_jensen_shannon_equals_scipy_on_same_bins() -> None:
    rng = np.random.default_rng(14)
    rs, cs = _pair(rng.normal(0, 1, 10_000), rng.normal(0.4, 1.2, 3_000))
    ref_c, cur_c = coarse_counts(rs, cs, 10)
    expected = jensenshannon(ref_c / ref_c.sum(), cur_c / cur_c.sum(), base=2)
    assert js_test(rs, cs, 0.1).statistic == pytest.approx(expected, rel=1e-12)


def test_chi2_matches_scipy_chisquare() -> None:
    rng = np.random.default_rng(15)
    ref_values = rng.choice(["a", "b", "c", "d"], 5_000, p=[0.4, 0.3, 0.2, 0.1])
    cur_values = rng.choice(["a", "b", "c", "d", "zz"], 800, p=[0.3, 0.3, 0.2, 0.15, 0.05])
    ref = CategoricalSummary(dict(zip(*np.unique(ref_values, return_counts=True), strict=True)))
    cur = CategoricalSummary(dict(zip(*np.unique(cur_values, return_counts=True), strict=True)))
    r = chi2(ref, cur, 0.05)
    observed = np.array([cur.counts.get(k, 0) for k in ("a", "b", "c", "d")] + [cur.counts["zz"]], dtype=float)
    ref_counts = np.array([ref.counts[k] for k in ("a", "b", "c", "d")] + [0], dtype=float)
    exp = stats.chisquare(observed, expected_counts(ref_counts, observed.sum()))
    assert r.statistic == pytest.approx(exp.statistic, rel=1e-12)
    assert r.p_value == pytest.approx(exp.pvalue, rel=1e-9)
    assert r.drifted and r.effect_size == pytest.approx(0.5 * np.abs(observed / 800 - ref_counts / 5000).sum())


def test_one_hundredth_sigma_on_a_million_rows_is_significant_but_not_drift() -> None:
    rng = np.random.default_rng(16)
    rs, cs = _pair(rng.normal(0, 1, 1_000_000), rng.normal(0.01, 1, 1_000_000))
    results = {name: spec.fn(rs, cs, spec.default_threshold) for name, spec in STAT_TESTS.items() if name != "chi2"}
    assert results["ks"].p_value is not None and results["ks"].p_value < 1e-4  # a p-value alone would alarm
    assert not any(r.drifted for r in results.values())


def test_quarter_sigma_shift_is_drift_for_the_distance_tests() -> None:
    rng = np.random.default_rng(17)
    rs, cs = _pair(rng.normal(0, 1, 100_000), rng.normal(0.35, 1, 20_000))
    for name in ("ks", "wasserstein", "psi", "jensen_shannon"):
        assert STAT_TESTS[name].fn(rs, cs, STAT_TESTS[name].default_threshold).drifted, name


def _summaries_for(kind: FeatureKind, seed: int) -> tuple[NumericSummary | CategoricalSummary, ...]:
    rng = np.random.default_rng(seed)
    if kind is FeatureKind.NUMERIC:
        return _pair(rng.normal(0, 1, 4_000), rng.normal(0.2, 1, 1_000))
    a = rng.choice(["x", "y", "z"], 4_000)
    b = rng.choice(["x", "y", "z"], 1_000, p=[0.5, 0.3, 0.2])
    return (
        CategoricalSummary(dict(zip(*np.unique(a, return_counts=True), strict=True))),
        CategoricalSummary(dict(zip(*np.unique(b, return_counts=True), strict=True))),
    )


@pytest.mark.parametrize("name", sorted(STAT_TESTS))
def test_plugin_contract(name: str) -> None:
    spec = STAT_TESTS[name]
    assert spec.fn.__doc__ and ">>>" in (inspect.getmodule(spec.fn).__doc__ or "")  # documented, with an example
    assert list(inspect.signature(spec.fn).parameters)[:3] == ["reference", "current", "threshold"]
    for kind in spec.kinds:
        ref, cur = _summaries_for(kind, 1)
        first = spec.fn(ref, cur, 0.123)
        again = spec.fn(*_summaries_for(kind, 1), 0.123)
        assert isinstance(first, TestResult) and first == again  # deterministic with a seed
        assert first.threshold == 0.123  # returns the threshold it used
        assert isinstance(first.statistic, float) and (first.p_value is None) == (not spec.has_p_value)
        assert pickle.loads(pickle.dumps(spec.fn))(ref, cur, 0.123) == first  # picklable (ships to Ray workers)
        assert set(first.to_dict()) >= {"statistic", "p_value", "threshold", "drifted"}
