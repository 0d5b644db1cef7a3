"""One real local Ray per test session, one MLflow (SQLite) work folder, one trained champion, one Serve proxy."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from driftline.core.config import DriftlineConfig
from driftline.core.config_loader import load_config
from driftline.core.net import free_port


@pytest.fixture(scope="session")
def ray_session() -> Iterator[None]:
    import ray

    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield
    finally:
        try:
            from ray import serve

            serve.shutdown()
        finally:
            ray.shutdown()


@pytest.fixture(scope="session")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("driftline")


@pytest.fixture(scope="session")
def cfg(workdir: Path) -> DriftlineConfig:
    """Small and fast: a few epochs on 2,000 rows, Train workers on half a CPU."""
    return load_config(
        None,
        workdir=workdir,
        overrides={
            "data.scenario": "concept_drift",
            "data.n_rows": 8000,
            "train.train_rows": 2000,
            "train.epochs": 3,
            "train.cpus_per_worker": 0.5,
            "serve.max_batch_rows": 50,
            "serve.router.num_cpus": 0.1,
            "serve.model.num_cpus": 0.1,
        },
    )


@pytest.fixture(scope="session")
def champion(ray_session: None, cfg: DriftlineConfig):
    from driftline.train_jobs.champion import train_champion

    return train_champion(cfg)


@pytest.fixture(scope="session")
def serve_port(ray_session: None) -> int:
    from ray import serve

    port = free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    return port
