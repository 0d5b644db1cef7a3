"""Config schema of retraining and of the backtest (``configs/retrain.yaml``), one pydantic model, extra keys rejected.

>>> cfg = RetrainConfig()
>>> cfg.replay.fraction, cfg.gates.margin, cfg.executor.value
(0.3, 0.01, 'ray')
>>> from driftline.core.config_loader import load_yaml_model
>>> load_yaml_model("configs/retrain.yaml", RetrainConfig).warm_start.enabled  # doctest: +SKIP
True
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path

from pydantic import Field, model_validator

from driftline.core.config_loader import load_yaml_model
from driftline.core.strict import StrictModel

__all__ = [
    "BacktestConfig",
    "ColdChallenger",
    "Executor",
    "GateConfig",
    "ReplayConfig",
    "RetrainConfig",
    "WarmStartConfig",
    "load_retrain_config",
]


class Executor(str, Enum):
    """Where a retrain runs: Ray Train (the product path) or in-process (tests, backtests, no cluster)."""

    RAY = "ray"
    LOCAL = "local"


class ColdChallenger(str, Enum):
    """When a cold retrain on the same rows competes with the warm start (the better one is registered)."""

    AUTO = "auto"  # after a concept change: the champion fell gates.concept_change_drop below its baseline
    ALWAYS = "always"
    NEVER = "never"


class WarmStartConfig(StrictModel):
    enabled: bool = Field(default=True, description="Start from the champion's weights and preprocessor (else cold).")
    shrink: float | None = Field(
        default=None, gt=0, le=1, description="Shrink-and-perturb factor (Ash & Adams 2020); null keeps weights as-is."
    )
    perturb: float = Field(default=0.0, ge=0, description="Std of the Gaussian noise added after shrinking.")


class ReplayConfig(StrictModel):
    fraction: float = Field(
        default=0.3, ge=0, lt=1, description="Share of the training set drawn from older data (0 disables replay)."
    )
    pool_size: int = Field(default=2000, ge=10, description="Reservoir size: older rows kept for replay and holdout.")
    holdout_fraction: float = Field(
        default=0.3, gt=0, lt=1, description="Share of the reservoir kept out of training for the forgetting gate."
    )
    seed: int = Field(default=0, description="Seed of the reservoir and of the mixing.")


class GateConfig(StrictModel):
    holdout_fraction: float = Field(
        default=0.2, gt=0, lt=1, description="Newest share of the window held out for the 'not worse' gate."
    )
    margin: float = Field(
        default=0.01,
        ge=0,
        lt=1,
        description="Candidate may be at most this much less accurate than the champion (regression: this share "
        "higher RMSE).",
    )
    max_forgetting: float = Field(
        default=0.05,
        ge=0,
        description="Largest allowed accuracy drop vs the champion on the older holdout (regression: relative RMSE "
        "growth, 0.05 = 5%).",
    )
    min_holdout_rows: int = Field(default=30, ge=1, description="Fewer holdout rows than this make a gate fail.")
    cold_challenger: ColdChallenger = Field(
        default=ColdChallenger.AUTO,
        description="auto | always | never: a cold retrain on the same rows competes with a warm start (auto: only "
        "after a concept change); the better one on the recent holdout is registered, and the gates say which won.",
    )
    concept_change_drop: float = Field(
        default=0.1,
        gt=0,
        description="A concept change, for cold_challenger auto: the champion's recent-holdout accuracy fell this "
        "far below its baseline (regression: its RMSE rose by this share).",
    )


class BacktestConfig(StrictModel):
    window_rows: int = Field(default=336, ge=10, description="Rows per test-then-train window (336 = a week of Elec2).")
    initial_rows: int = Field(default=1344, ge=10, description="Rows the first model trains on (4 weeks of Elec2).")
    train_rows: int = Field(default=1344, ge=10, description="Sliding window a cold retrain trains on.")
    cold_epochs: int = Field(default=8, ge=1, description="Epochs of a cold (from scratch) retrain.")
    warm_epochs: int = Field(default=4, ge=1, description="Epochs of a warm-started retrain.")
    continual_steps: int = Field(default=20, ge=1, description="Optimiser steps of one continual update.")
    hidden_sizes: tuple[int, ...] = Field(default=(32, 16), description="MLP widths used in the backtest.")
    batch_size: int = Field(default=128, ge=1, description="Rows per optimiser step.")
    learning_rate: float = Field(default=5e-3, gt=0, description="Adam learning rate.")
    row_seconds: float = Field(
        default=1800.0, gt=0, description="Clock advance per row when the stream has no timestamps (Elec2: 30 min)."
    )
    causal_features: bool = Field(
        default=True,
        description="Add causal engineered features (previous label, price vs trailing 48-row mean); past rows only.",
    )
    policy_file: Path | None = Field(
        default=None, description="Base policy YAML for the backtest (strategy is set per run); null: built-in."
    )
    seed: int = Field(default=0, description="Seed of models and shuffling.")


class RetrainConfig(StrictModel):
    """How a retrain runs and what it must pass before it may become the candidate."""

    champion_alias: str = Field(default="champion", min_length=1, description="Alias the warm start loads.")
    executor: Executor = Field(default=Executor.RAY, description="ray (Ray Train) | local (in-process).")
    epochs: int = Field(default=4, ge=1, description="Epochs of the retrain.")
    batch_size: int = Field(default=128, ge=1, description="Rows per optimiser step on each worker.")
    learning_rate: float = Field(default=3e-3, gt=0, description="Adam learning rate.")
    max_steps_per_epoch: int | None = Field(default=None, ge=1, description="Cap on steps per epoch; null: all.")
    seed: int = Field(default=0, description="Seed of weights (cold start) and shuffling.")
    min_labelled_rows: int = Field(
        default=200, ge=1, description="Fewer labelled rows in the window than this: skip with a reason."
    )
    max_failures: int = Field(default=2, ge=0, description="Worker failures Ray Train recovers from (from checkpoint).")
    min_rows_per_worker: int = Field(
        default=20_000,
        ge=1,
        description="A window with fewer rows per worker trains on fewer of train.num_workers (at least one).",
    )
    warm_start: WarmStartConfig = Field(default_factory=WarmStartConfig, description="Warm start from the champion.")
    replay: ReplayConfig = Field(default_factory=ReplayConfig, description="Replay of older data.")
    gates: GateConfig = Field(default_factory=GateConfig, description="Offline gates before 'candidate'.")
    backtest: BacktestConfig = Field(default_factory=BacktestConfig, description="Settings of `driftline backtest`.")

    @model_validator(mode="after")
    def _check(self) -> RetrainConfig:
        if self.champion_alias == "candidate":
            raise ValueError(
                "champion_alias 'candidate' would warm-start from the model this job replaces; use champion"
            )
        return self


def load_retrain_config(path: str | Path | None) -> RetrainConfig:
    """``path`` parsed into :class:`RetrainConfig`, or the embedded defaults when None."""
    return RetrainConfig() if path is None else load_yaml_model(path, RetrainConfig)
