"""Seeded synthetic streams with known shifts, so every detector and policy can be checked against the truth.

A stream is a list of segments. Each segment fixes P(X) (feature mean shifts, a scale factor, region weights),
P(Y|X) (the ``concept``) and, optionally, P(Y) (a target prior reached by class-conditional sampling, which keeps
P(X|Y) exactly as it was: that is what label shift means). Scenarios name the classic cases:

- ``stationary``: nothing moves.
- ``covariate_shift``: at the change point ``x0`` moves +1.5 sigma, ``x2`` doubles its spread and region ``c``
  becomes common; P(Y|X) is unchanged.
- ``label_shift``: P(Y=1) goes 0.15 -> 0.60 at the change point; P(X|Y) is unchanged.
- ``concept_drift``: at the change point the sign of ``x0``'s effect flips and ``x1``'s weakens; P(X) is unchanged.
- ``concept_then_label``: concept drift at 40% of the stream, then a label shift (0.5 -> 0.8) at 70%.

Regression scenarios (``y`` is a real number: ``10 + 3 x0 - 2 x1 + x2 + 0.5 x0 x1`` + a region effect + N(0, 1)
noise, so the Bayes RMSE is 1.0):

- ``regression_stationary``: nothing moves.
- ``regression_covariate_shift``: P(X) moves at 50% as in ``covariate_shift``; P(Y|X) is unchanged (the target's
  distribution moves with X, and a model that learnt the interaction well keeps its error).
- ``regression_concept_drift``: at 50% ``x0``'s effect flips sign (+3 -> -3) and ``x1``'s weakens; P(X) is
  unchanged, so only labels (or the residuals) show it.

>>> frame, truth = generate_stream("label_shift", n_rows=2000, seed=1)
>>> truth.change_points, round(float(frame["y"].iloc[1000:].mean()), 1)
([1000], 0.6)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from driftline.core.errors import DataError
from driftline.datasets.schema import DatasetSchema, FeatureKind, FeatureSpec

__all__ = [
    "REGRESSION_SCHEMA",
    "SCENARIOS",
    "SYNTHETIC_SCHEMA",
    "GroundTruth",
    "Segment",
    "generate_stream",
    "scenario_segments",
]

NUMERIC = ("x0", "x1", "x2", "x3", "x4")
REGIONS = ("a", "b", "c")
SYNTHETIC_SCHEMA = DatasetSchema(
    features=(
        *(FeatureSpec(n, FeatureKind.NUMERIC) for n in NUMERIC),
        FeatureSpec("region", FeatureKind.CATEGORICAL, REGIONS),
    ),
    label="y",
    classes=(0, 1),
)
_CONCEPTS: dict[str, dict[str, float]] = {
    # logit = bias + sum(w * x) + region effect; "base" has Bayes accuracy ~0.86 at P(Y=1) ~ 0.5.
    "base": {"bias": 0.0, "x0": 2.0, "x1": -1.5, "x2": 0.8, "x3": 0.0, "x4": 0.0},
    "flipped": {"bias": 0.0, "x0": -2.0, "x1": -0.5, "x2": 0.8, "x3": 0.0, "x4": 0.0},
}
_REGION_EFFECT = {"a": 0.0, "b": 0.8, "c": -0.8}
REGRESSION_SCHEMA = DatasetSchema(features=SYNTHETIC_SCHEMA.features, label="y", classes=())
_REGRESSION_CONCEPTS: dict[str, dict[str, float]] = {
    "base": {"bias": 10.0, "x0": 3.0, "x1": -2.0, "x2": 1.0, "x3": 0.0, "x4": 0.0, "x0x1": 0.5},
    "flipped": {"bias": 10.0, "x0": -3.0, "x1": -0.5, "x2": 1.0, "x3": 0.0, "x4": 0.0, "x0x1": 0.5},
}
_REGRESSION_REGION_EFFECT = {"a": 0.0, "b": 2.0, "c": -2.0}
REGRESSION_NOISE_SD = 1.0


@dataclass(frozen=True)
class Segment:
    """One stationary stretch of a stream, starting at ``start`` (a fraction of the stream in [0, 1))."""

    start: float
    mean_shift: dict[str, float] = field(default_factory=dict)
    scale: dict[str, float] = field(default_factory=dict)
    region_weights: tuple[float, float, float] = (0.5, 0.3, 0.2)
    concept: str = "base"
    prior: float | None = None
    regression: bool = False  # y is a real number (``_REGRESSION_CONCEPTS``), not a class


@dataclass(frozen=True)
class GroundTruth:
    """What really changed, for tests and the demo to check detections against."""

    scenario: str
    change_points: list[int]
    shifted_features: list[str]
    priors: list[float | None]
    concepts: list[str]
    description: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


SCENARIOS: dict[str, tuple[list[Segment], list[str], str]] = {
    "stationary": ([Segment(0.0)], [], "No shift."),
    "covariate_shift": (
        [Segment(0.0), Segment(0.5, mean_shift={"x0": 1.5}, scale={"x2": 2.0}, region_weights=(0.2, 0.3, 0.5))],
        ["x0", "x2", "region"],
        "P(X) moves at 50%: x0 +1.5 sigma, x2 spread x2, region c common; P(Y|X) fixed.",
    ),
    "label_shift": (
        [Segment(0.0, prior=0.15), Segment(0.5, prior=0.60)],
        [],
        "P(Y=1) 0.15 -> 0.60 at 50%; P(X|Y) fixed (features move only through Y).",
    ),
    "concept_drift": (
        [Segment(0.0), Segment(0.5, concept="flipped")],
        [],
        "P(Y|X) changes at 50%: x0's effect flips sign, x1's weakens; P(X) fixed.",
    ),
    "concept_then_label": (
        [
            Segment(0.0, prior=0.5),
            Segment(0.4, concept="flipped", prior=0.5),
            Segment(0.7, concept="flipped", prior=0.8),
        ],
        [],
        "Concept drift at 40% (x0's effect flips), then P(Y=1) 0.5 -> 0.8 at 70% with P(X|Y) fixed.",
    ),
    "regression_stationary": ([Segment(0.0, regression=True)], [], "Regression; no shift (Bayes RMSE 1.0)."),
    "regression_covariate_shift": (
        [
            Segment(0.0, regression=True),
            Segment(0.5, mean_shift={"x0": 1.5}, scale={"x2": 2.0}, region_weights=(0.2, 0.3, 0.5), regression=True),
        ],
        ["x0", "x2", "region"],
        "Regression; P(X) moves at 50%: x0 +1.5 sigma, x2 spread x2, region c common; E[y|X] fixed.",
    ),
    "regression_concept_drift": (
        [Segment(0.0, regression=True), Segment(0.5, concept="flipped", regression=True)],
        [],
        "Regression; E[y|X] changes at 50%: x0's effect flips (+3 -> -3), x1's weakens (-2 -> -0.5); P(X) fixed.",
    ),
}


def scenario_segments(name: str) -> list[Segment]:
    if name not in SCENARIOS:
        raise DataError(f"Unknown synthetic scenario {name!r}.", f"Use one of: {', '.join(sorted(SCENARIOS))}.")
    return SCENARIOS[name][0]


def _features(rng: np.random.Generator, n: int, seg: Segment) -> pd.DataFrame:
    data: dict[str, Any] = {}
    for name in NUMERIC:
        data[name] = rng.normal(seg.mean_shift.get(name, 0.0), seg.scale.get(name, 1.0), n)
    data["region"] = rng.choice(np.array(REGIONS, dtype=object), size=n, p=np.asarray(seg.region_weights))
    return pd.DataFrame(data)


def _labels(rng: np.random.Generator, frame: pd.DataFrame, concept: str) -> np.ndarray:
    weights = _CONCEPTS[concept]
    logit = np.full(len(frame), weights["bias"])
    for name in NUMERIC:
        logit += weights[name] * frame[name].to_numpy()
    logit += frame["region"].map(_REGION_EFFECT).to_numpy(dtype=float)
    return (rng.random(len(frame)) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int64)


def _targets(rng: np.random.Generator, frame: pd.DataFrame, concept: str) -> np.ndarray:
    w = _REGRESSION_CONCEPTS[concept]
    y = np.full(len(frame), w["bias"]) + w["x0x1"] * frame["x0"].to_numpy() * frame["x1"].to_numpy()
    for name in NUMERIC:
        y += w[name] * frame[name].to_numpy()
    y += frame["region"].map(_REGRESSION_REGION_EFFECT).to_numpy(dtype=float)
    return y + rng.normal(0.0, REGRESSION_NOISE_SD, len(frame))


def _segment_rows(rng: np.random.Generator, n: int, seg: Segment) -> pd.DataFrame:
    if seg.regression:
        frame = _features(rng, n, seg)
        frame["y"] = _targets(rng, frame, seg.concept)
        return frame
    if seg.prior is None:
        frame = _features(rng, n, seg)
        frame["y"] = _labels(rng, frame, seg.concept)
        return frame
    # Label shift by class-conditional sampling: draw a pool from the segment's joint, then take the wanted
    # number of rows of each class. Rows of one class keep their P(X|Y) because they are an i.i.d. subset of it.
    wanted_pos = int(rng.binomial(n, seg.prior))
    pool = _features(rng, 4 * n + 200, seg)
    pool["y"] = _labels(rng, pool, seg.concept)
    pos, neg = pool[pool["y"] == 1], pool[pool["y"] == 0]
    if len(pos) < wanted_pos or len(neg) < n - wanted_pos:
        raise DataError(f"Prior {seg.prior} cannot be reached from the pool.", "Use a prior in [0.05, 0.95].")
    frame = pd.concat([pos.iloc[:wanted_pos], neg.iloc[: n - wanted_pos]])
    return frame.sample(frac=1.0, random_state=int(rng.integers(2**31))).reset_index(drop=True)


def generate_stream(
    scenario: str, n_rows: int = 20_000, seed: int = 7, start: str = "2026-01-01", freq_seconds: int = 60
) -> tuple[pd.DataFrame, GroundTruth]:
    """Return (stream in time order with a ``timestamp`` column, ground truth) for a named scenario."""
    if n_rows < 10:
        raise DataError(f"n_rows={n_rows} is too small for a stream.", "Ask for at least 10 rows.")
    segments = scenario_segments(scenario)
    rng = np.random.default_rng(seed)
    bounds = [round(s.start * n_rows) for s in segments] + [n_rows]
    parts = [_segment_rows(rng, bounds[i + 1] - bounds[i], seg) for i, seg in enumerate(segments)]
    frame = pd.concat(parts, ignore_index=True)
    frame["region"] = frame["region"].astype(str)
    frame["timestamp"] = pd.Timestamp(start, tz="UTC") + pd.to_timedelta(np.arange(n_rows) * freq_seconds, unit="s")
    _, shifted, description = SCENARIOS[scenario]
    truth = GroundTruth(
        scenario=scenario,
        change_points=bounds[1:-1],
        shifted_features=shifted,
        priors=[s.prior for s in segments],
        concepts=[s.concept for s in segments],
        description=description,
    )
    return frame, truth
