"""The one training loop: plain torch, written against a tiny context so Ray Train and a local executor run it alike.

Ray Train (``ray_executor``) gives it dataset shards, DDP and persisted checkpoints; the local executor
(``local_executor``) gives it in-memory batches, for backtests and unit tests. The loop itself only sees
:class:`TrainContext`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import torch
from torch import nn

from driftline.model.bundle import ModelBundle

__all__ = ["LoopConfig", "TrainContext", "shrink_and_perturb", "train_loop", "weight_norm"]


@dataclass(frozen=True)
class LoopConfig:
    """Hyper-parameters of one run; ``initial_bundle`` is the serialized starting model (cold or warm)."""

    initial_bundle: bytes
    epochs: int = 8
    batch_size: int = 128
    learning_rate: float = 3e-3
    seed: int = 0
    max_steps_per_epoch: int | None = None
    shrink: float | None = None
    perturb: float = 0.0
    fail_at_epoch: int | None = None  # fault injection for tests: raise once, on rank 0, at this epoch

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class TrainContext(Protocol):
    """What the loop needs from wherever it runs."""

    world_rank: int

    def batches(self, epoch: int, batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]: ...

    def prepare_model(self, model: nn.Module) -> nn.Module: ...

    def report(self, metrics: dict[str, float], state: dict[str, Any] | None) -> None: ...

    def restore(self) -> dict[str, Any] | None: ...

    def should_inject_failure(self) -> bool: ...


def shrink_and_perturb(model: nn.Module, shrink: float, noise: float, seed: int) -> None:
    """Ash & Adams (2020): w <- shrink * w + noise * N(0, 1); helps a warm start keep learning new data."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in model.parameters():
            param.mul_(shrink).add_(noise * torch.randn(param.shape, generator=gen))


def weight_norm(model: nn.Module) -> float:
    """L2 norm of all parameters, summed in float64: a cheap fingerprint of the weights, logged every epoch.

    >>> layer = nn.Linear(2, 1)
    >>> with torch.no_grad():
    ...     _ = layer.weight.fill_(3.0), layer.bias.fill_(0.0)
    >>> round(weight_norm(layer) ** 2, 6)
    18.0
    """
    with torch.no_grad():
        squares = [param.detach().double().square().sum() for param in model.parameters()]
        return float(torch.stack(squares).sum().sqrt()) if squares else 0.0


def _unwrap(model: nn.Module) -> nn.Module:
    return model.module if hasattr(model, "module") else model


def _loss(regression: bool) -> Any:
    """Cross-entropy on class logits; for regression, mean squared error on the standardised target."""
    if not regression:
        return nn.CrossEntropyLoss()
    mse = nn.MSELoss()
    return lambda out, target: mse(out.reshape(-1), target)


def train_loop(ctx: TrainContext, cfg: LoopConfig) -> None:
    """Train for ``cfg.epochs``, reporting loss and a checkpoint after every epoch; resumes from a checkpoint."""
    torch.manual_seed(cfg.seed + ctx.world_rank)
    start = ModelBundle.from_bytes(cfg.initial_bundle)
    net = start.build_network()
    restored = ctx.restore()
    start_epoch = 0
    if restored is not None:
        net.load_state_dict(restored["model"])
        start_epoch = int(restored["epoch"]) + 1
    elif cfg.shrink is not None:
        shrink_and_perturb(net, cfg.shrink, cfg.perturb, cfg.seed)
    model = ctx.prepare_model(net)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.learning_rate)
    if restored is not None and "optimizer" in restored:
        optimizer.load_state_dict(restored["optimizer"])
    loss_fn = _loss(start.is_regression)
    for epoch in range(start_epoch, cfg.epochs):
        if cfg.fail_at_epoch == epoch and ctx.world_rank == 0 and ctx.should_inject_failure():
            raise RuntimeError(f"injected failure at epoch {epoch}")
        # Where this epoch starts from: after a resume it must equal the checkpoint's weights (the previous
        # epoch's ``weight_norm``), which is how a restarted worker shows it continued rather than began again.
        start_norm = weight_norm(_unwrap(model))
        model.train()
        total, rows = 0.0, 0
        for step, (features, labels) in enumerate(ctx.batches(epoch, cfg.batch_size)):
            if cfg.max_steps_per_epoch is not None and step >= cfg.max_steps_per_epoch:
                break
            optimizer.zero_grad()
            loss = loss_fn(model(features), labels)
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(labels)
            rows += len(labels)
        state = {"model": _unwrap(model).state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch}
        metrics = {
            "epoch": float(epoch),
            "train_loss": total / max(rows, 1),
            "rows": float(rows),
            "start_weight_norm": start_norm,
            "weight_norm": weight_norm(_unwrap(model)),  # of the weights this epoch's checkpoint holds
        }
        ctx.report(metrics, state)
