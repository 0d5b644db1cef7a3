"""Training: the torch model bundle, the one training loop, Ray Train and local executors, champion and retrain jobs."""

from __future__ import annotations

from driftline.model.bundle import ModelBundle, TabularMLP
from driftline.model.preprocess import TabularPreprocessor
from driftline.train_jobs.evaluate import Evaluation, evaluate
from driftline.train_jobs.gates import GateReport, GateResult, combine, forgetting_gate, not_worse_gate
from driftline.train_jobs.local_executor import LocalTrainResult, encode_labels, fit_local
from driftline.train_jobs.loop import LoopConfig, TrainContext, shrink_and_perturb, train_loop
from driftline.train_jobs.replay import Reservoir, mix_replay, split_pool
from driftline.train_jobs.retrain_config import RetrainConfig

__all__ = [
    "Evaluation",
    "GateReport",
    "GateResult",
    "LocalTrainResult",
    "LoopConfig",
    "ModelBundle",
    "Reservoir",
    "RetrainConfig",
    "TabularMLP",
    "TabularPreprocessor",
    "TrainContext",
    "combine",
    "encode_labels",
    "evaluate",
    "fit_local",
    "fit_on_ray",
    "forgetting_gate",
    "mix_replay",
    "not_worse_gate",
    "run_retrain",
    "shrink_and_perturb",
    "split_pool",
    "train_champion",
    "train_loop",
]


def __getattr__(name: str) -> object:
    # Entry points that pull in Ray Train and MLflow load on first use.
    if name == "fit_on_ray":
        from driftline.train_jobs.ray_executor import fit_on_ray

        return fit_on_ray
    if name == "run_retrain":
        from driftline.train_jobs.retrain import run_retrain

        return run_retrain
    if name == "train_champion":
        from driftline.train_jobs.champion import train_champion

        return train_champion
    raise AttributeError(f"module 'driftline.train_jobs' has no attribute {name!r}")
