"""The drift report's ``joint_drift`` section: the domain classifier (``domain_classifier.py``) on the reference's
row sample (in the profile) and the window's bottom-k sample (``joint_sample.py``): drift in how features move
together, which per-feature tests cannot see."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from driftline.core.errors import DataError
from driftline.datasets.schema import FeatureKind
from driftline.monitors.drift_config import DriftConfig
from driftline.monitors.profile import ReferenceProfile
from driftline.monitors.summaries import MAX_MAGNITUDE, WindowSummary

__all__ = ["joint_drift_section"]


def joint_drift_section(profile: ReferenceProfile, window: WindowSummary, cfg: DriftConfig) -> dict[str, Any] | None:
    """The domain-classifier test on the reference's and the window's row samples: drift in how features move
    together, which per-feature tests cannot see (``domain_classifier.py``)."""
    j = cfg.joint
    if not j.enabled or not profile.sample or window.sample is None:
        return None
    features = [f for f in profile.schema.features if not cfg.ignored(f.name)]
    ref, cur = pd.DataFrame(profile.sample), window.sample.frame()
    for f in features:  # one type per column on both sides: numbers as float, categories as strings
        for frame in (ref, cur):
            frame[f.name] = _as_kind(frame[f.name], f.kind)
    n_ref, n_cur = len(ref), len(cur)
    base = {"n_reference": n_ref, "n_window": n_cur, "alpha": j.alpha, "min_auc": j.min_auc}
    if min(n_ref, n_cur) < j.min_rows:
        return {**base, "tested": False, "drifted": False, "reason": f"samples of {n_ref}/{n_cur} rows < {j.min_rows}"}
    from driftline.monitors.domain_classifier import domain_classifier_test

    try:
        r = domain_classifier_test(ref, cur, [f.name for f in features], alpha=j.alpha)
    except (DataError, ValueError, FloatingPointError) as exc:  # e.g. a column with no usable value in a sample
        return {**base, "tested": False, "drifted": False, "reason": f"not tested: {exc}"}
    return {
        **base,
        "tested": True,
        "auc": r.auc,
        "p_value": r.p_value,
        "drifted": bool(r.drift_detected and r.auc >= j.min_auc),
        "top_features": [{"feature": name, "weight": weight} for name, weight in r.top_features],
        "reason": None,
    }


def _as_kind(values: pd.Series, kind: FeatureKind) -> pd.Series:
    if kind is FeatureKind.NUMERIC:  # non-finite and huge values are left out, as every other test does
        x = pd.to_numeric(values, errors="coerce").astype(float)
        return x.where(x.abs() <= MAX_MAGNITUDE)
    return values.map(lambda v: None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v))
