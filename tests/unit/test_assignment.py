"""Traffic assignment: sticky, close to the configured share, monotone ramps, independent shadow selection."""

from __future__ import annotations

import math
import os
import subprocess
import sys

import pytest

from driftline.core.errors import RolloutError
from driftline.serve_apps.assignment import assign_variant, bucket, shadow_selected

KEYS = [f"user-{i}" for i in range(5000)]
SALT = "rollout:7"


@pytest.mark.parametrize("weight", [0.05, 0.1, 0.25, 0.5, 0.9])
def test_observed_share_within_three_binomial_standard_errors(weight: float) -> None:
    share = sum(assign_variant(SALT, k, weight) == "candidate" for k in KEYS) / len(KEYS)
    assert abs(share - weight) <= 3 * math.sqrt(weight * (1 - weight) / len(KEYS))


def test_same_key_same_variant_and_bucket() -> None:
    first = [assign_variant(SALT, k, 0.3) for k in KEYS[:500]]
    assert first == [assign_variant(SALT, k, 0.3) for k in KEYS[:500]]
    assert all(0 <= bucket(SALT, k) < 10_000 for k in KEYS[:500])


def test_buckets_are_stable_across_processes() -> None:
    # Python's hash() would differ under another PYTHONHASHSEED; blake2b must not.
    code = "from driftline.serve_apps.assignment import bucket; print([bucket('s', f'k{i}') for i in range(20)])"
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.strip() == str([bucket("s", f"k{i}") for i in range(20)])


def test_raising_the_weight_only_moves_champion_to_candidate() -> None:
    before = {k: assign_variant(SALT, k, 0.10) for k in KEYS}
    after = {k: assign_variant(SALT, k, 0.25) for k in KEYS}
    moved = [k for k in KEYS if before[k] != after[k]]
    assert all(before[k] == "champion" and after[k] == "candidate" for k in moved)
    assert abs(len(moved) / len(KEYS) - 0.15) <= 3 * math.sqrt(0.15 * 0.85 / len(KEYS))


def test_extreme_weights() -> None:
    assert {assign_variant(SALT, k, 0.0) for k in KEYS[:200]} == {"champion"}
    assert {assign_variant(SALT, k, 1.0) for k in KEYS[:200]} == {"candidate"}
    assert not any(shadow_selected(SALT, k, 0.0) for k in KEYS[:200])
    assert all(shadow_selected(SALT, k, 1.0) for k in KEYS[:200])


def test_salt_reshuffles() -> None:
    same = sum(assign_variant("a", k, 0.5) == assign_variant("b", k, 0.5) for k in KEYS) / len(KEYS)
    assert abs(same - 0.5) <= 3 * math.sqrt(0.25 / len(KEYS))


def test_shadow_selection_is_independent_of_the_variant() -> None:
    fraction, weight = 0.3, 0.5
    for variant in ("champion", "candidate"):
        group = [k for k in KEYS if assign_variant(SALT, k, weight) == variant]
        share = sum(shadow_selected(SALT, k, fraction) for k in group) / len(group)
        assert abs(share - fraction) <= 3 * math.sqrt(fraction * (1 - fraction) / len(group))


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan")])
def test_bad_shares_raise(bad: float) -> None:
    with pytest.raises(RolloutError, match="outside"):
        assign_variant(SALT, "k", bad)
    with pytest.raises(RolloutError, match="shadow_fraction"):
        shadow_selected(SALT, "k", bad)
