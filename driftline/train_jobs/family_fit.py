"""One entry to train any model family, locally or on Ray Train: the torch loop for ``mlp`` and ``torch`` (a
``TorchTrainer``), boosting for ``xgboost`` (an ``XGBoostTrainer``). The starting bundle says which, and whether it
is a warm start (trained weights or booster) or a cold one."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from driftline.model.bundle import ModelBundle
from driftline.train_jobs.loop import LoopConfig

__all__ = ["FitResult", "fit_family_local", "fit_family_on_ray"]


class FitResult(Protocol):
    @property
    def bundle(self) -> ModelBundle: ...

    @property
    def history(self) -> list[dict[str, float]]: ...


def fit_family_local(bundle: ModelBundle, frame: pd.DataFrame, loop: LoopConfig) -> FitResult:
    """Train in this process (backtests, the local executor, unit tests)."""
    if bundle.family == "xgboost":
        from driftline.train_jobs.boosting import fit_booster_local

        return fit_booster_local(bundle, frame, seed=loop.seed)
    from driftline.train_jobs.local_executor import fit_local

    return fit_local(bundle, frame, loop)


def fit_family_on_ray(
    bundle: ModelBundle,
    frame: pd.DataFrame,
    loop: LoopConfig,
    *,
    num_workers: int,
    cpus_per_worker: float,
    storage_path: str | Path,
    run_prefix: str,
    max_failures: int = 2,
) -> Any:
    """Train on Ray Train; the result has ``bundle``, ``history``, ``run_name`` and ``timings``."""
    common: dict[str, Any] = {
        "num_workers": num_workers,
        "cpus_per_worker": cpus_per_worker,
        "storage_path": storage_path,
        "run_prefix": run_prefix,
        "max_failures": max_failures,
    }
    if bundle.family == "xgboost":
        from driftline.train_jobs.boosting import fit_booster_on_ray

        return fit_booster_on_ray(bundle, frame, seed=loop.seed, **common)
    from driftline.train_jobs.ray_executor import fit_on_ray

    return fit_on_ray(bundle, frame, loop, **common)
