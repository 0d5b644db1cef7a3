"""Train the ``xgboost`` family: locally, or on Ray Train's ``XGBoostTrainer`` (Train V2, Ray 2.60).

A cold run boosts ``num_boost_round`` rounds from nothing; a warm run continues the champion's booster for
``warm_rounds`` more (continued boosting, the xgboost warm start). The encoded window goes to the object store once
and each rank boosts on its shard; with more than one worker, Ray's ``XGBoostConfig`` wraps the loop in xgboost's
collective communicator, so the ranks grow the same trees. ``RayTrainReportCallback`` checkpoints the booster, and a
restarted worker continues from the last checkpoint rather than the start.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from driftline.core.errors import TrainingError
from driftline.core.timing import PhaseTimer
from driftline.model.bundle import ModelBundle
from driftline.model.families.xgboost_booster import boost, booster_rounds
from driftline.train_jobs.batches import EncodedWindow

__all__ = ["BoostResult", "fit_booster_local", "fit_booster_on_ray", "rounds_for"]

DEFAULT_ROUNDS = 100
DEFAULT_WARM_ROUNDS = 30


def rounds_for(bundle: ModelBundle) -> int:
    """Rounds to add: ``warm_rounds`` when continuing a trained booster, else ``num_boost_round``."""
    if bundle.booster:
        return int(bundle.params.get("warm_rounds", DEFAULT_WARM_ROUNDS))
    return int(bundle.params.get("num_boost_round", DEFAULT_ROUNDS))


def _booster_params(bundle: ModelBundle) -> dict[str, Any]:
    return {k: v for k, v in bundle.params.items() if k not in ("num_boost_round", "warm_rounds")}


class BoostResult:
    def __init__(self, bundle: ModelBundle, history: list[dict[str, float]], run_name: str, timings: dict[str, float]):
        self.bundle, self.history, self.run_name, self.timings = bundle, history, run_name, timings


def fit_booster_local(bundle: ModelBundle, frame: pd.DataFrame, seed: int = 0) -> BoostResult:
    """Boost in this process (backtests, benchmarks, unit tests)."""
    window = EncodedWindow.encode(bundle, frame)
    rounds = rounds_for(bundle)
    started = time.perf_counter()
    raw = boost(
        window.features,
        window.labels,
        n_classes=len(bundle.classes),
        params=_booster_params(bundle),
        rounds=rounds,
        seed=seed,
        init=bundle.booster,
    )
    seconds = time.perf_counter() - started
    history = [{"rounds": float(booster_rounds(raw)), "rows": float(len(frame))}]
    return BoostResult(bundle.with_booster(raw), history, "boost-local", {"boosting": seconds})


def _ray_entry(config: dict[str, Any]) -> None:
    import ray
    import ray.train
    from ray.train.xgboost import RayTrainReportCallback

    context = ray.train.get_context()
    shard = ray.get(config["window"]).shard(context.get_world_rank(), context.get_world_size())
    init, rounds = config["init"], config["rounds"]
    checkpoint = ray.train.get_checkpoint()
    if checkpoint is not None:  # a restarted worker: continue from the last checkpoint, not from the start
        restored = RayTrainReportCallback.get_model(checkpoint)
        done = restored.num_boosted_rounds() - config["init_rounds"]
        init, rounds = bytes(restored.save_raw("ubj")), max(rounds - done, 0)
    callback = RayTrainReportCallback(frequency=max(rounds // 4, 1), checkpoint_at_end=True)
    boost(
        np.asarray(shard.features),
        np.asarray(shard.labels),
        n_classes=config["n_classes"],
        params=config["params"],
        rounds=rounds,
        seed=config["seed"],
        init=init,
        callbacks=[callback],
    )


def fit_booster_on_ray(
    bundle: ModelBundle,
    frame: pd.DataFrame,
    *,
    num_workers: int,
    cpus_per_worker: float,
    storage_path: str | Path,
    run_prefix: str = "train",
    seed: int = 0,
    max_failures: int = 2,
) -> BoostResult:
    """Boost on Ray Train; returns the bundle with the final booster."""
    import ray
    from ray.train import CheckpointConfig, FailureConfig, RunConfig, ScalingConfig
    from ray.train.xgboost import RayTrainReportCallback, XGBoostTrainer

    from driftline.train_jobs.ray_executor import unique_run_name
    from driftline.train_jobs.ray_settings import controller_polling

    timer = PhaseTimer()
    run_name = unique_run_name(run_prefix)
    rounds = rounds_for(bundle)
    with timer.phase("encode_window"):
        window_ref = ray.put(EncodedWindow.encode(bundle, frame))
    trainer = XGBoostTrainer(
        train_loop_per_worker=_ray_entry,
        train_loop_config={
            "window": window_ref,
            "init": bundle.booster,
            "init_rounds": booster_rounds(bundle.booster),
            "rounds": rounds,
            "n_classes": len(bundle.classes),
            "params": _booster_params(bundle),
            "seed": seed,
        },
        scaling_config=ScalingConfig(num_workers=num_workers, resources_per_worker={"CPU": cpus_per_worker}),
        run_config=RunConfig(
            name=run_name,
            storage_path=str(Path(storage_path).expanduser().resolve()),
            checkpoint_config=CheckpointConfig(num_to_keep=2),
            failure_config=FailureConfig(max_failures=max_failures),
        ),
    )
    try:
        with timer.phase("fit"), controller_polling():
            result = trainer.fit()
    except Exception as exc:
        raise TrainingError(f"Ray Train run {run_name} (xgboost) failed: {exc}", "See the worker logs above.") from exc
    if result.checkpoint is None:
        raise TrainingError(f"Ray Train run {run_name} finished without a checkpoint.", "Check num_boost_round >= 1.")
    with timer.phase("load_result"):
        booster = RayTrainReportCallback.get_model(result.checkpoint)
        raw = bytes(booster.save_raw("ubj"))
    metrics = {k: float(v) for k, v in (result.metrics or {}).items() if isinstance(v, (int, float))}
    history = [{"rounds": float(booster.num_boosted_rounds()), "rows": float(len(frame)), **metrics}]
    return BoostResult(bundle.with_booster(raw), history, run_name, timer.seconds)
