"""How driftline sizes and tunes a Ray Train run so a small window does not pay a large run's fixed costs.

- :func:`workers_for`: a small window trains on fewer workers than configured (data parallelism only pays once
  each worker has enough rows; below that it adds worker start-up and all-reduce cost).
- :func:`torch_config`: one worker needs no torch process group (nothing to all-reduce; ``prepare_model`` does
  not wrap a model in DDP at world size 1), so the gloo rendezvous is skipped, and the Train controller does not
  import torch just to unpickle a ``TorchConfig``.
- :func:`controller_polling`: Ray Train's controller polls its workers every 2 s by default and a worker's
  ``ray.train.report`` waits until the previous report was polled; for runs whose epochs take milliseconds that
  wait, not training, is the cost. A user's own ``RAY_TRAIN_HEALTH_CHECK_INTERVAL_S`` wins.

>>> workers_for(rows=5_000, requested=4, min_rows_per_worker=20_000), workers_for(90_000, 4, 20_000)
(1, 4)
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["POLL_SECONDS", "controller_polling", "torch_config", "workers_for"]

POLL_SECONDS = 0.1
_POLL_ENV = "RAY_TRAIN_HEALTH_CHECK_INTERVAL_S"


def workers_for(rows: int, requested: int, min_rows_per_worker: int) -> int:
    """The configured worker count, lowered so every worker gets at least ``min_rows_per_worker`` rows."""
    return max(1, min(requested, rows // max(min_rows_per_worker, 1)))


def torch_config(num_workers: int) -> Any:
    """Ray Train's TorchConfig; for a single worker a backend config that sets up nothing and imports no torch.

    TorchTrainer only reads and sets ``backend`` on it. The class is defined here, inside the function, so Ray
    pickles it by value: the Train controller then unpickles it without importing torch (``TorchConfig`` lives
    in a module that imports torch, a second torch import per run, seconds on a loaded machine).
    """
    from ray.train.backend import Backend, BackendConfig

    if num_workers > 1:
        from ray.train.torch import TorchConfig

        return TorchConfig()

    class SingleWorkerTorchConfig(BackendConfig):  # type: ignore[misc]
        """No process group (nothing to all-reduce); ``prepare_model`` wraps nothing at world size 1."""

        backend: str | None = None

        @property
        def backend_cls(self) -> type[Backend]:
            return Backend  # Ray Train's no-op backend

    return SingleWorkerTorchConfig()


@contextmanager
def controller_polling(seconds: float = POLL_SECONDS) -> Iterator[None]:
    """Set Ray Train's controller poll interval for the runs started inside (it reads the env at start-up)."""
    if _POLL_ENV in os.environ:
        yield
        return
    os.environ[_POLL_ENV] = str(seconds)
    try:
        yield
    finally:
        os.environ.pop(_POLL_ENV, None)
