"""A real ``mlflow server`` on loopback as driftline's tracking and registry URI: training, serving, the loop.

The server runs as its own process (SQLite backend, artifacts proxied by the server into a temp folder, exactly
the shape of deploy/kuberay/mlflow.yaml with Postgres and S3 swapped for local stand-ins). Nothing here uses the
session's SQLite store: the config is the session ``cfg`` with ``mlflow.tracking_uri`` and ``workdir`` overridden.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from driftline.core.config import DriftlineConfig
from driftline.core.net import free_port
from driftline.datasets import load_stream
from driftline.model.registry import CHAMPION, ModelRegistry

pytestmark = pytest.mark.integration

SERVER_START_TIMEOUT_S = 240.0  # measured ~2 min from launch to /health with the 2 cores under load average ~30
TOKEN = "mlflow-server-test-token"


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"mlflow server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"mlflow server not healthy after {SERVER_START_TIMEOUT_S:.0f}s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path | str]]:
    """``mlflow server`` on a free loopback port; killed (its whole process group) at the end of the module."""
    root = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = root / "server.log"
    cmd = [
        sys.executable, "-m", "mlflow", "server",
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        "--backend-store-uri", f"sqlite:///{root / 'backend.db'}",
        "--serve-artifacts", "--artifacts-destination", str(root / "artifact-store"),
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    with log.open("wb") as out:
        # Its own session: the server forks workers, and the whole group is ours to stop, by this id only.
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        _wait_healthy(url, proc, log)
        yield {"url": url, "root": root, "log": log}
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


@pytest.fixture(scope="module")
def scfg(cfg: DriftlineConfig, mlflow_server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DriftlineConfig]:
    """The session config pointed at the server, with its own work folder (logs, rollout state, Train storage)."""
    import mlflow
    from mlflow.tracking._model_registry import utils as registry_utils
    from mlflow.tracking._tracking_service import utils as tracking_utils

    # driftline's adapters set MLflow's process-wide URIs; put back what the rest of the session had.
    previous = (tracking_utils._tracking_uri, registry_utils._registry_uri)
    workdir = tmp_path_factory.mktemp("mlflow-server-work")
    yield cfg.with_overrides(
        **{
            "mlflow.tracking_uri": mlflow_server["url"],
            "workdir": str(workdir),
            "serve.admin_token": TOKEN,
            "serve.poll_seconds": 0.2,
            "serve.log_flush_seconds": 0.5,
        }
    )
    mlflow.set_tracking_uri(previous[0])
    mlflow.set_registry_uri(previous[1])


@pytest.fixture(scope="module")
def server_champion(ray_session: None, scfg: DriftlineConfig):
    from driftline.train_jobs.champion import train_champion

    return train_champion(scfg)


@pytest.fixture(scope="module")
def app_url(scfg: DriftlineConfig, server_champion, serve_port: int) -> Iterator[str]:
    from ray import serve

    from driftline.serve_apps.app import build_app

    serve.run(build_app(scfg), name="mlflow-server", route_prefix="/mlflow-server")
    yield f"http://127.0.0.1:{serve_port}/mlflow-server"
    serve.delete("mlflow-server")


@pytest.fixture(scope="module")
def rows(scfg: DriftlineConfig) -> list[dict]:
    stream, schema = load_stream(scfg.data)
    return stream.iloc[2000:2400][[*schema.feature_names, schema.label]].to_dict("records")


def test_training_registers_the_champion_on_the_server(scfg, server_champion, mlflow_server) -> None:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=mlflow_server["url"], registry_uri=mlflow_server["url"])
    alias = client.get_model_version_by_alias(scfg.mlflow.model_name, CHAMPION)
    assert alias.version == server_champion.version.version
    run = client.get_run(server_champion.version.run_id)
    assert run.info.artifact_uri.startswith("mlflow-artifacts:"), run.info.artifact_uri  # proxied by the server
    assert run.data.metrics["val_accuracy"] == pytest.approx(server_champion.val_accuracy)
    stored = {p.name for p in Path(mlflow_server["root"], "artifact-store").rglob("*") if p.is_file()}
    assert {"bundle.pt", "reference_profile.json", "MLmodel"} <= stored  # bytes went through the server
    assert not (scfg.workdir_path / "mlflow.db").exists()  # no silent fallback to a local store
    assert ModelRegistry(scfg).load_profile_json(f"models:/{scfg.mlflow.model_name}@{CHAMPION}")


def test_serving_loads_the_champion_from_the_server(app_url, server_champion, rows) -> None:
    features = [_features(r) for r in rows[:20]]
    response = httpx.post(f"{app_url}/predict", json={"instances": features}, timeout=60)
    assert response.status_code == 200, response.text
    assert response.headers["X-Model-Version"] == server_champion.version.version
    assert len(response.json()["predictions"]) == len(features)
    health = httpx.get(f"{app_url}/healthz", timeout=30).json()
    assert health["champion_version"] == server_champion.version.version


def _features(row: dict) -> dict:
    return {k: v for k, v in row.items() if k != "y"}


def _logged(scfg: DriftlineConfig, kind: str) -> int:
    from driftline.serve_apps.prediction_log import ParquetSink

    if not (scfg.workdir_path / "logs" / kind).exists():
        return 0
    return len(ParquetSink(scfg.workdir_path / "logs").read(kind))


def _wait_logged(scfg: DriftlineConfig, kind: str, at_least: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    seen = 0
    while time.monotonic() < deadline:
        seen = _logged(scfg, kind)
        if seen >= at_least:
            return
        time.sleep(0.3)
    raise AssertionError(f"only {seen} of {at_least} {kind} rows reached the log")


def test_one_control_loop_tick_logs_its_drift_report_to_the_server(scfg, app_url, rows, mlflow_server) -> None:
    from mlflow import MlflowClient

    from driftline.platform.admin_client import AdminClient
    from driftline.platform.control_loop import ControlLoop, ControlLoopConfig
    from driftline.serve_apps.prediction_log import FEEDBACK, PREDICTIONS

    before = _logged(scfg, PREDICTIONS)
    with httpx.Client(timeout=60) as client:
        for start in range(0, len(rows), 50):
            chunk = rows[start : start + 50]
            answer = client.post(f"{app_url}/predict", json={"instances": [_features(r) for r in chunk]})
            assert answer.status_code == 200, answer.text
            rid, tokens = answer.json()["request_id"], answer.json()["feedback_tokens"]
            items = [
                {"request_id": rid, "row": i, "label": int(r["y"]), "token": tokens[i]} for i, r in enumerate(chunk)
            ]
            assert client.post(f"{app_url}/feedback", json={"items": items}).status_code == 200
    _wait_logged(scfg, PREDICTIONS, before + len(rows))  # labels join predictions only once both are flushed
    _wait_logged(scfg, FEEDBACK, len(rows))

    # settle_seconds=0: the logs are flushed already (waited for above), so the newest rows may join this window.
    loop_cfg = ControlLoopConfig(serve_url=app_url, min_window_rows=100, settle_seconds=0.0)
    loop = ControlLoop(scfg, loop_cfg, AdminClient(app_url, TOKEN))
    result = loop.tick()
    assert result.action != "error", result.reason
    assert result.report is not None and result.report["window"]["labelled_rows"] >= len(rows)
    kinds = [event["kind"] for event in result.events]
    assert kinds[:2] == ["window_analysed", "decision"], kinds
    run_id = result.report["mlflow"]["run_id"]
    client = MlflowClient(tracking_uri=mlflow_server["url"])
    run = client.get_run(run_id)  # the drift report went to the server, not to a local store
    assert run.info.artifact_uri.startswith("mlflow-artifacts:")
    stored = {f.path for f in client.list_artifacts(run_id, "drift_report")}
    assert {"drift_report/report.json", "drift_report/report.html"} <= stored, stored
    assert (scfg.workdir_path / "state" / "loop.json").is_file()  # the loop's own state, in this test's workdir
