"""Build and run driftline's Serve application.

- ``serve run configs/serve.yaml`` / ``serve deploy configs/serve.yaml`` use :func:`app_builder` (import path
  ``driftline.serve_apps.app:app_builder``) with ``args: {config: <driftline config file>}``.
- ``driftline serve`` calls :func:`deploy` with the loaded config.
"""

from __future__ import annotations

from typing import Any

from driftline.platform.config import DriftlineConfig
from driftline.platform.config_loader import load_config
from driftline.serve_apps.model_deployment import ModelReplica
from driftline.serve_apps.router import Router

__all__ = ["app_builder", "build_app", "deploy", "shutdown"]


def build_app(cfg: DriftlineConfig, champion_ref: str = "champion") -> Any:
    """The bound application: Router ingress over a champion model deployment."""
    from ray import serve

    config_dict = cfg.model_dump(mode="json")
    model = serve.deployment(
        ModelReplica,
        name="champion",
        num_replicas=cfg.serve.model.num_replicas,
        max_ongoing_requests=cfg.serve.model.max_ongoing_requests,
        ray_actor_options={"num_cpus": cfg.serve.model.num_cpus},
        user_config={"model_ref": champion_ref},
    )
    router = serve.deployment(
        Router,
        name="router",
        num_replicas=cfg.serve.router.num_replicas,
        max_ongoing_requests=cfg.serve.router.max_ongoing_requests,
        ray_actor_options={"num_cpus": cfg.serve.router.num_cpus},
    )
    return router.bind(model.bind(config_dict), {"max_batch_rows": cfg.serve.max_batch_rows})


def app_builder(args: dict[str, Any]) -> Any:
    """Entry point for ``serve run``/``serve deploy``: ``args`` may name a driftline ``config`` file and ``workdir``."""
    cfg = load_config(args.get("config"), workdir=args.get("workdir"))
    return build_app(cfg, str(args.get("champion_ref", "champion")))


def deploy(cfg: DriftlineConfig, port: int | None = None, champion_ref: str = "champion") -> str:
    """Start Serve's HTTP proxy on ``port`` (default from config) and deploy the app; returns the base URL."""
    from ray import serve

    from driftline.platform.ray_runtime import ensure_ray

    ensure_ray(cfg)
    http_port = cfg.serve.port if port is None else port
    serve.start(http_options={"host": cfg.serve.host, "port": http_port})
    serve.run(build_app(cfg, champion_ref), name=cfg.serve.app_name, route_prefix=cfg.serve.route_prefix)
    prefix = cfg.serve.route_prefix.rstrip("/")
    return f"http://{cfg.serve.host}:{http_port}{prefix}"


def shutdown() -> None:
    """Stop Serve and Ray started by this process."""
    import ray
    from ray import serve

    if ray.is_initialized():
        serve.shutdown()
        ray.shutdown()
