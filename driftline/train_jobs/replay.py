"""Replay against catastrophic forgetting: a seeded reservoir sample of older rows, mixed into each retrain.

A :class:`Reservoir` keeps a uniform sample of every row it was shown (Vitter's Algorithm R), in bounded memory,
however long the stream; :func:`mix_replay` adds replayed rows so they make up ``fraction`` of the training set.

>>> import pandas as pd
>>> res = Reservoir(capacity=50, seed=0).add(pd.DataFrame({"x": range(1000)}))
>>> len(res.sample()), res.seen
(50, 1000)
>>> mixed = mix_replay(pd.DataFrame({"x": range(70)}), res.sample(), fraction=0.3, seed=0)
>>> len(mixed), int((mixed["x"] >= 70).sum()) > 0
(100, True)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from driftline.core.errors import DataError

__all__ = ["Reservoir", "mix_replay", "replay_rows", "split_pool"]


class Reservoir:
    """Uniform sample of at most ``capacity`` rows of everything passed to :meth:`add` (Algorithm R, seeded)."""

    def __init__(self, capacity: int, seed: int = 0) -> None:
        if capacity < 1:
            raise DataError(f"Reservoir capacity {capacity} is too small.", "Use replay.pool_size >= 1.")
        self.capacity = capacity
        self.seed = seed
        self.seen = 0
        self._rng = np.random.default_rng(seed)
        self._rows: pd.DataFrame | None = None

    def add(self, frame: pd.DataFrame) -> Reservoir:
        """Offer every row of ``frame`` (in order); returns self."""
        if len(frame) == 0:
            return self
        frame = frame.reset_index(drop=True)
        if self._rows is None:
            self._rows = frame.iloc[:0].copy()
        fill = min(self.capacity - len(self._rows), len(frame))
        if fill > 0:
            self._rows = pd.concat([self._rows, frame.iloc[:fill]], ignore_index=True)
        rest = frame.iloc[fill:]
        if len(rest):
            # Row t (0-based, over the whole stream) replaces slot j ~ U{0..t} when j < capacity. Drawing all j at
            # once and keeping the *last* row per slot is the sequential algorithm: later rows overwrite earlier.
            t = self.seen + fill + np.arange(len(rest))
            slots = np.floor(self._rng.random(len(rest)) * (t + 1)).astype(np.int64)
            hit = np.flatnonzero(slots < self.capacity)
            if hit.size:
                slot_hit = slots[hit]
                _, last = np.unique(slot_hit[::-1], return_index=True)
                keep = hit[::-1][last]
                # Slots are the index labels 0..capacity-1; replacing by label keeps every column's dtype.
                incoming = rest.iloc[keep].set_axis(slots[keep])
                self._rows = pd.concat([self._rows.drop(index=slots[keep].tolist()), incoming]).sort_index()
        self.seen += len(frame)
        return self

    def sample(self) -> pd.DataFrame:
        """The current sample (a copy, in slot order)."""
        return pd.DataFrame() if self._rows is None else self._rows.reset_index(drop=True)


def split_pool(pool: pd.DataFrame, holdout_fraction: float, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split a replay pool into (rows to replay, older-distribution holdout) at random, seeded."""
    if len(pool) == 0:
        return pool, pool
    order = np.random.default_rng(seed + 1).permutation(len(pool))
    n_hold = round(len(pool) * holdout_fraction)
    hold, train = order[:n_hold], order[n_hold:]
    return pool.iloc[np.sort(train)].reset_index(drop=True), pool.iloc[np.sort(hold)].reset_index(drop=True)


def replay_rows(n_new: int, fraction: float) -> int:
    """Replayed rows so that they are ``fraction`` of ``n_new + replayed``."""
    if not 0 <= fraction < 1:
        raise DataError(f"Replay fraction {fraction} is outside [0, 1).", "Use e.g. replay.fraction: 0.3.")
    return round(n_new * fraction / (1.0 - fraction))


def mix_replay(new: pd.DataFrame, pool: pd.DataFrame, fraction: float, seed: int = 0) -> pd.DataFrame:
    """``new`` plus a seeded sample of ``pool`` making up ``fraction`` of the result (fewer if the pool is small)."""
    want = min(replay_rows(len(new), fraction), len(pool))
    if want == 0:
        return new.reset_index(drop=True)
    pick = np.sort(np.random.default_rng(seed).choice(len(pool), size=want, replace=False))
    columns = list(new.columns)
    missing = [c for c in columns if c not in pool.columns]
    if missing:
        raise DataError(f"Replay pool lacks columns {missing}.", "Replay rows must share the window's columns.")
    return pd.concat([new, pool.iloc[pick][columns]], ignore_index=True)
