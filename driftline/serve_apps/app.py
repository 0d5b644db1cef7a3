"""Build and run driftline's Serve application.

The graph: ``router`` (FastAPI ingress, holding the champion and the candidate with placement ``inline``), with
placement ``remote`` -> ``slot_a`` / ``slot_b`` (model replicas; the serving state says which is champion and which
candidate), ``log_writer`` (prediction/feedback logs) and ``controller`` (rollout state, the one writer). Writer
and controller take no CPU reservation: they are light and must always schedule.

- ``serve run configs/serve.yaml`` / ``serve deploy configs/serve.yaml`` use :func:`app_builder` (import path
  ``driftline.serve_apps.app:app_builder``) with ``args: {config: <driftline config file>}``.
- ``driftline serve`` calls :func:`deploy` with the loaded config.
"""

from __future__ import annotations

from typing import Any

from driftline.core.config import DriftlineConfig, Placement, ServedModel
from driftline.core.config_loader import load_config
from driftline.core.paths import logs_dir
from driftline.serve_apps.controller import Controller
from driftline.serve_apps.log_writer_replica import MAX_ONGOING_CALLS, LogWriterReplica
from driftline.serve_apps.model_deployment import ModelReplica
from driftline.serve_apps.router import Router

__all__ = ["app_builder", "build_app", "deploy", "shutdown"]


def build_app(cfg: DriftlineConfig) -> Any:
    """The bound application graph for ``cfg``."""
    from ray import serve

    config = cfg.model_dump(mode="json")
    config["workdir"] = str(cfg.workdir_path)  # replicas run in other folders: a relative work folder would move
    model = cfg.serve.model

    served = cfg.served_models()

    def slot(served_model: ServedModel, name: str) -> Any:
        """One of a remote model's two slot deployments (``slot_a``; ``<model>.slot_a`` when many are served)."""
        prefix = f"{served_model.name}." if len(served) > 1 else ""
        model_config = cfg.for_model(served_model).model_dump(mode="json")
        model_config["workdir"] = config["workdir"]
        return serve.deployment(
            ModelReplica,
            name=f"{prefix}slot_{name}",
            **model.replicas(),
            max_ongoing_requests=model.max_ongoing_requests,
            ray_actor_options={"num_cpus": model.num_cpus},
        ).bind(model_config, name, cfg.serve.poll_seconds)

    writer = serve.deployment(
        LogWriterReplica,
        name="log_writer",
        num_replicas=1,
        max_ongoing_requests=MAX_ONGOING_CALLS,
        ray_actor_options={"num_cpus": 0},
    ).bind(
        str(logs_dir(cfg.workdir_path)),
        cfg.serve.log_flush_rows,
        cfg.serve.log_flush_seconds,
        window_hours=cfg.serve.feedback_window_hours,
        rescan_seconds=cfg.serve.log_rescan_seconds,
        index_dir=str(cfg.serve.label_index_dir) if cfg.serve.label_index_dir else None,
    )
    controller = serve.deployment(
        Controller, name="controller", num_replicas=1, ray_actor_options={"num_cpus": 0}
    ).bind(config)
    router = serve.deployment(
        Router,
        name="router",
        **cfg.serve.router.replicas(),
        max_ongoing_requests=cfg.serve.router.max_ongoing_requests,
        ray_actor_options={"num_cpus": cfg.serve.router.num_cpus},
    )
    slots = {m.name: (slot(m, "a"), slot(m, "b")) for m in served if m.placement is Placement.REMOTE}
    return router.bind(slots, writer, controller, config)


def app_builder(args: dict[str, Any]) -> Any:
    """Entry point for ``serve run``/``serve deploy``: ``args`` may name a driftline ``config`` file and ``workdir``."""
    return build_app(load_config(args.get("config"), workdir=args.get("workdir")))


def deploy(cfg: DriftlineConfig, port: int | None = None) -> str:
    """Start Serve's HTTP proxy on ``port`` (default from config) and deploy the app; returns the base URL."""
    from ray import serve

    from driftline.core.ray_runtime import ensure_ray

    ensure_ray(cfg)
    http_port = cfg.serve.port if port is None else port
    serve.start(http_options={"host": cfg.serve.host, "port": http_port})
    serve.run(build_app(cfg), name=cfg.serve.app_name, route_prefix=cfg.serve.route_prefix)
    prefix = cfg.serve.route_prefix.rstrip("/")
    return f"http://{cfg.serve.host}:{http_port}{prefix}"


def shutdown() -> None:
    """Stop Serve (flushing the logs) and Ray started by this process."""
    import ray
    from ray import serve

    if ray.is_initialized():
        serve.shutdown()
        ray.shutdown()
