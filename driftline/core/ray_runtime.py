"""Connect to Ray the same way everywhere: the configured address, else ``RAY_ADDRESS``, else a local instance."""

from __future__ import annotations

import os
from typing import Any

from driftline.core.config import DriftlineConfig

__all__ = ["ensure_ray"]


def ensure_ray(cfg: DriftlineConfig, **extra: Any) -> None:
    """Start or join Ray once per process; a no-op when Ray is already initialised."""
    import ray

    if ray.is_initialized():
        return
    address = cfg.ray.address or os.environ.get("RAY_ADDRESS")
    kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": cfg.ray.log_to_driver, **extra}
    if address:
        ray.init(address=address, **kwargs)
    else:
        # "local" always starts a fresh instance; a bare ray.init() would join any `ray start` cluster it finds.
        ray.init(address="local", num_cpus=cfg.ray.num_cpus, **kwargs)
