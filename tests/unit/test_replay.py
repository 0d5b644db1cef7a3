"""Replay: the vectorised reservoir equals sequential Algorithm R, is uniform, keeps dtypes; mixing is exact."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chisquare

from driftline.core.errors import DataError
from driftline.datasets import generate_stream
from driftline.train_jobs.replay import Reservoir, mix_replay, replay_rows, split_pool


def _algorithm_r(n: int, k: int, seed: int) -> list[int]:
    """Textbook sequential Algorithm R drawing the same uniforms (one per row after the first k)."""
    rng = np.random.default_rng(seed)
    res = list(range(min(k, n)))
    for t in range(k, n):
        j = int(np.floor(rng.random(1)[0] * (t + 1)))
        if j < k:
            res[j] = t
    return res


@pytest.mark.parametrize("chunks", [[1000], [10, 90, 400, 500], [1] * 50 + [950]])
def test_reservoir_equals_sequential_algorithm_r(chunks: list[int]) -> None:
    frame = pd.DataFrame({"x": np.arange(1000)})
    res = Reservoir(capacity=64, seed=3)
    start = 0
    for size in chunks:
        res.add(frame.iloc[start : start + size])
        start += size
    assert res.sample()["x"].tolist() == _algorithm_r(1000, 64, seed=3)
    assert res.seen == 1000


def test_reservoir_is_uniform_over_the_stream() -> None:
    counts = np.zeros(10)
    frame = pd.DataFrame({"x": np.arange(500)})
    for seed in range(200):
        sample = Reservoir(capacity=50, seed=seed).add(frame.iloc[:123]).add(frame.iloc[123:]).sample()
        counts += np.bincount(sample["x"].to_numpy() // 50, minlength=10)
    assert counts.sum() == 200 * 50
    assert chisquare(counts).pvalue > 0.001  # each tenth of the stream holds a tenth of the sample


def test_reservoir_keeps_dtypes_and_is_seeded() -> None:
    frame, _ = generate_stream("stationary", 600, seed=1)
    a = Reservoir(100, seed=5).add(frame).sample()
    b = Reservoir(100, seed=5).add(frame).sample()
    c = Reservoir(100, seed=6).add(frame).sample()
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)
    assert a.dtypes.to_dict() == frame.dtypes.to_dict()
    assert len(a) == 100 and a["timestamp"].dt.tz is not None


def test_reservoir_smaller_stream_than_capacity() -> None:
    res = Reservoir(100, seed=0).add(pd.DataFrame({"x": range(30)}))
    assert res.sample()["x"].tolist() == list(range(30))
    with pytest.raises(DataError):
        Reservoir(0)


def test_mix_replay_hits_the_fraction() -> None:
    new = pd.DataFrame({"x": np.arange(700), "src": "new"})
    pool = pd.DataFrame({"x": np.arange(5000), "src": "old"})
    mixed = mix_replay(new, pool, fraction=0.3, seed=0)
    assert len(mixed) == 1000 and (mixed["src"] == "old").sum() == 300
    assert mixed.iloc[:700].equals(new)
    assert mixed.equals(mix_replay(new, pool, fraction=0.3, seed=0))
    assert len(mix_replay(new, pool.iloc[:50], fraction=0.3)) == 750  # a small pool gives what it has
    assert len(mix_replay(new, pool, fraction=0.0)) == 700
    assert replay_rows(100, 0.5) == 100
    with pytest.raises(DataError):
        replay_rows(100, 1.0)
    with pytest.raises(DataError, match="lacks columns"):
        mix_replay(new, pool[["x"]], fraction=0.3)


def test_split_pool_is_a_seeded_partition() -> None:
    pool = pd.DataFrame({"x": np.arange(100)})
    train, hold = split_pool(pool, 0.3, seed=2)
    assert len(hold) == 30 and len(train) == 70
    assert sorted(train["x"].tolist() + hold["x"].tolist()) == list(range(100))
    assert hold.equals(split_pool(pool, 0.3, seed=2)[1])
