"""The cheap label-shift fix: the champion with its outputs re-weighted by the estimated/reference prior ratio.

No training: the champion's probabilities are multiplied by per-class weights (composed with the weights it already
carries, since its reference prior is what its outputs are tuned for), judged on the labelled rows of the shifted
window, and registered through :func:`~driftline.train_jobs.candidate.register_candidate` like a retrain.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from driftline.core.config import DriftlineConfig
from driftline.model.registry import ModelRegistry
from driftline.train_jobs.candidate import register_candidate
from driftline.train_jobs.evaluate import evaluate
from driftline.train_jobs.gates import combine, not_worse_gate

__all__ = ["MIN_REWEIGHT_ROWS", "ReweightOutcome", "reweight_champion"]

MIN_REWEIGHT_ROWS = 30


@dataclass(frozen=True)
class ReweightOutcome:
    """``version`` is set when a version was registered; ``passed`` when it became the candidate."""

    passed: bool
    reason: str
    version: str | None = None
    parent_version: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


def reweight_champion(
    cfg: DriftlineConfig, class_weights: Mapping[str, float], rows: pd.DataFrame, margin: float = 0.0
) -> ReweightOutcome:
    """Re-weight the champion by ``class_weights`` (class -> ratio) and gate it on ``rows`` (labelled, in the
    champion's label column); registered either way, aliased ``candidate`` only when it is not worse by ``margin``.
    """
    started = time.perf_counter()
    registry = ModelRegistry(cfg)
    bundle, parent = registry.load_bundle(registry.champion_uri)
    if len(rows) < MIN_REWEIGHT_ROWS:
        return ReweightOutcome(False, f"only {len(rows)} labelled rows in the shifted window", parent_version=parent)
    ratio = [float(class_weights.get(str(c), 1.0)) for c in bundle.classes]
    current = bundle.class_weights or (1.0,) * len(ratio)
    weights = tuple(w * r for w, r in zip(current, ratio, strict=True))
    candidate = bundle.with_class_weights(weights)
    judged, before = evaluate(candidate, rows), evaluate(bundle, rows)
    gates = combine([not_worse_gate(judged.accuracy, before.accuracy, len(rows), margin, min_rows=MIN_REWEIGHT_ROWS)])
    # The re-weighted model's reference is the shifted window it was judged on (its prior, its confusion matrix):
    # the next window then compares against the new prior, so a fix is not re-applied on top of itself.
    registered = register_candidate(
        registry,
        candidate,
        gates,
        profile_rows=rows,
        evaluation=judged,
        example=rows,
        metrics={"reweight_seconds": time.perf_counter() - started},
        params={"class_weights": list(weights)},
        tags={"driftline.trigger": "label_shift_reweight", "driftline.parent_version": parent},
        run_name=f"reweight-of-v{parent}",
    )
    seconds = time.perf_counter() - started
    by_class = dict(zip(bundle.classes, weights, strict=True))
    reason = (
        f"v{registered.version} = v{parent} re-weighted by {by_class} in {seconds:.1f}s; "
        f"gate {'passed' if gates.passed else 'failed'}: {gates.reason}"
    )
    evidence = {"version": registered.version, "weights": list(weights), "gate": gates.to_dict(), "seconds": seconds}
    return ReweightOutcome(gates.passed, reason, registered.version, parent, evidence, seconds)
