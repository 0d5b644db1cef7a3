"""Registering a candidate: profile -> register with lineage and gate verdict -> alias ``candidate`` on a pass.

Shared by the retrain job and the label-shift re-weight, so both leave the same trail in MLflow: every version is
registered (a rejected one keeps ``driftline.rejected_reason`` and no alias), ``driftline.gates`` holds the
verdict, and only a version whose gates passed gets the alias ``candidate``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from driftline.datasets.schema import DatasetSchema
from driftline.model.bundle import ModelBundle
from driftline.model.registry import CANDIDATE, ModelRegistry
from driftline.train_jobs.evaluate import Evaluation
from driftline.train_jobs.gates import GateReport

__all__ = ["RegisteredCandidate", "profile_json", "register_candidate"]


def profile_json(
    rows: pd.DataFrame, schema: DatasetSchema, evaluation: Evaluation, baseline: dict[str, float] | None = None
) -> str:
    """The reference profile of ``rows`` with the model's confusion matrix (regression: its predictions) on its
    holdout; the performance ``baseline`` is its holdout accuracy (regression: RMSE and MAE) unless one is given (a
    retrain passes the level before the shift)."""
    from driftline.monitors.profile import build_reference_profile

    profile = build_reference_profile(
        rows,
        schema,
        confusion_matrix=None if schema.is_regression else evaluation.confusion_matrix,
        baseline=baseline or evaluation.baseline(),
        predictions=evaluation.predictions if schema.is_regression else None,
    )
    profile.estimation = _estimators(evaluation)
    return str(profile.to_json())


def _estimators(evaluation: Evaluation) -> dict[str, Any]:
    """CBPE/ATC/BCTS fitted on the holdout's probabilities (empty for regression or a holdout they cannot fit on:
    the report then says performance is not estimated)."""
    from driftline.core.errors import DataError
    from driftline.monitors.estimation.window_estimate import fit_reference_estimators

    if evaluation.is_regression or evaluation.probabilities.size == 0 or len(set(evaluation.truth.tolist())) < 2:
        return {}
    if bool((evaluation.probabilities.max(axis=1) >= 1.0 - 1e-12).all()):  # one-hot: a model without probabilities
        return {}
    try:
        return fit_reference_estimators(evaluation.probabilities, evaluation.truth)
    except (DataError, ValueError):
        return {}


@dataclass(frozen=True)
class RegisteredCandidate:
    version: str
    passed: bool
    tags: dict[str, str]


def register_candidate(
    registry: ModelRegistry,
    bundle: ModelBundle,
    gates: GateReport,
    *,
    profile_rows: pd.DataFrame,
    evaluation: Evaluation,
    example: pd.DataFrame,
    metrics: dict[str, float],
    params: dict[str, Any],
    tags: dict[str, str],
    run_name: str,
    baseline: dict[str, float] | None = None,
) -> RegisteredCandidate:
    """Register ``bundle`` with its profile, gate verdict and lineage; alias it ``candidate`` only if it passed."""
    tags = {**tags, "driftline.gates": gates.to_json()}
    if not gates.passed:
        tags["driftline.rejected_reason"] = gates.reason[:4000]
    version = registry.register(
        bundle,
        profile_json=profile_json(profile_rows, bundle.preprocessor.schema, evaluation, baseline),
        example=example,
        metrics=metrics,
        params=params,
        tags=tags,
        run_name=run_name,
    ).version
    if gates.passed:
        registry.set_alias(CANDIDATE, version, reason=gates.reason[:500])
    return RegisteredCandidate(version, gates.passed, tags)
