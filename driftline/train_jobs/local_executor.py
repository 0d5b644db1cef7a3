"""Run :func:`train_loop` in this process on in-memory data: for backtests, gates and unit tests.

>>> from driftline.datasets.synthetic import SYNTHETIC_SCHEMA, generate_stream
>>> from driftline.model.preprocess import TabularPreprocessor
>>> frame, _ = generate_stream("stationary", 300, seed=0)
>>> bundle = ModelBundle.create(TabularPreprocessor.fit(frame, SYNTHETIC_SCHEMA), (8,))
>>> result = fit_local(bundle, frame, LoopConfig(bundle.to_bytes(), epochs=2))
>>> len(result.history)
2
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import torch
from torch import nn

from driftline.model.bundle import ModelBundle
from driftline.train_jobs.batches import EncodedWindow, encode_labels
from driftline.train_jobs.loop import LoopConfig, train_loop

__all__ = ["LocalTrainResult", "encode_labels", "fit_local"]


@dataclass
class _LocalContext:
    window: EncodedWindow
    seed: int
    world_rank: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    last_state: dict[str, Any] | None = None

    def batches(self, epoch: int, batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        return self.window.batches(epoch, batch_size, self.seed)

    def prepare_model(self, model: nn.Module) -> nn.Module:
        return model

    def report(self, metrics: dict[str, float], state: dict[str, Any] | None) -> None:
        self.history.append(metrics)
        self.last_state = state

    def restore(self) -> dict[str, Any] | None:
        return None

    def should_inject_failure(self) -> bool:
        return False


@dataclass(frozen=True)
class LocalTrainResult:
    bundle: ModelBundle
    history: list[dict[str, float]]


def fit_local(bundle: ModelBundle, frame: pd.DataFrame, cfg: LoopConfig) -> LocalTrainResult:
    """Train in-process starting from ``cfg.initial_bundle``; returns ``bundle`` with the trained weights."""
    ctx = _LocalContext(EncodedWindow.encode(bundle, frame), seed=cfg.seed)
    train_loop(ctx, cfg)
    if ctx.last_state is None:
        return LocalTrainResult(ModelBundle.from_bytes(cfg.initial_bundle), ctx.history)
    return LocalTrainResult(bundle.with_weights(ctx.last_state["model"]), ctx.history)
