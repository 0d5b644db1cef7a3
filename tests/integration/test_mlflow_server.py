"""A real ``mlflow server`` on loopback as driftline's tracking and registry URI: training, serving, the loop.

The server runs as its own process (SQLite backend, artifacts proxied by the server into a temp folder, exactly
the shape of deploy/kuberay/mlflow.yaml with Postgres and S3 swapped for local stand-ins). Nothing here uses the
session's SQLite store: the config is the session ``cfg`` with ``mlflow.tracking_uri`` and ``workdir`` overridden.

The last test crashes the server (SIGKILL of its process group) right before a canary promotes: the promotion
still happens and users keep getting answers, the controller reports the alias move as pending, and once the
server is started again on the same port and store the alias moves within a few controller ticks.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
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


class MlflowServer:
    """``mlflow server`` on one loopback port and one backend store: killed and started again in place.

    It runs in its own session (the server forks workers), so the whole process group is ours to signal, by its
    id only.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.url = f"http://127.0.0.1:{free_port()}"
        self.log = root / "server.log"
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        port = self.url.rsplit(":", 1)[1]
        cmd = [
            sys.executable, "-m", "mlflow", "server",
            "--host", "127.0.0.1", "--port", port, "--workers", "1",
            "--backend-store-uri", f"sqlite:///{self.root / 'backend.db'}",
            "--serve-artifacts", "--artifacts-destination", str(self.root / "artifact-store"),
        ]  # fmt: skip
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
        with self.log.open("ab") as out:
            self._proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        _wait_healthy(self.url, self._proc, self.log)

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> None:
        """Signal the server's process group and wait for it; SIGKILL when SIGTERM is not enough."""
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    """``mlflow server`` on a free loopback port; stopped (its whole process group) at the end of the module."""
    server = MlflowServer(tmp_path_factory.mktemp("mlflow-server"))
    try:
        server.start()
        yield server
    finally:
        server.stop()


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
            "mlflow.tracking_uri": mlflow_server.url,
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

    client = MlflowClient(tracking_uri=mlflow_server.url, registry_uri=mlflow_server.url)
    alias = client.get_model_version_by_alias(scfg.mlflow.model_name, CHAMPION)
    assert alias.version == server_champion.version.version
    run = client.get_run(server_champion.version.run_id)
    assert run.info.artifact_uri.startswith("mlflow-artifacts:"), run.info.artifact_uri  # proxied by the server
    assert run.data.metrics["val_accuracy"] == pytest.approx(server_champion.val_accuracy)
    stored = {p.name for p in Path(mlflow_server.root, "artifact-store").rglob("*") if p.is_file()}
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

    from driftline.core.state_db import model_state
    from driftline.platform.admin_client import AdminClient
    from driftline.platform.control_loop import ControlLoop, ControlLoopConfig
    from driftline.platform.loop_state import LoopStateStore
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
    client = MlflowClient(tracking_uri=mlflow_server.url)
    run = client.get_run(run_id)  # the drift report went to the server, not to a local store
    assert run.info.artifact_uri.startswith("mlflow-artifacts:")
    stored = {f.path for f in client.list_artifacts(run_id, "drift_report")}
    assert {"drift_report/report.json", "drift_report/report.html"} <= stored, stored
    loop_state, problem = LoopStateStore(model_state(scfg)).load()  # the loop's own state, in this config's store
    assert loop_state is not None and problem is None, problem


def _register_candidate(scfg: DriftlineConfig) -> str:
    """A new version on the server: the champion fine-tuned for an epoch on newer rows (real weights, real bytes)."""
    from tests.integration.test_rollout_serving import _register

    return _register(scfg, None, {}, epochs=1)


def _rollout(app_url: str) -> dict:
    return httpx.get(f"{app_url}/rollout", timeout=30).json()


def _wait_for(what: str, check, timeout: float, poll: float = 0.2):
    """``check()``'s first truthy answer within ``timeout`` seconds, else an AssertionError naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        answer = check()
        if answer:
            return answer
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f} s")
        time.sleep(poll)


def _drive(url: str, rows: list[dict], stop: threading.Event, results: list, workers: int = 4) -> None:
    """Closed-loop load: single-row requests with distinct user ids until ``stop`` is set."""

    def worker(w: int) -> None:
        with httpx.Client(timeout=30) as client:
            i = w
            while not stop.is_set():
                headers = {"X-User-Id": f"outage-{i}"}
                try:
                    answer = client.post(
                        f"{url}/predict", json={"instances": [_features(rows[i % len(rows)])]}, headers=headers
                    )
                    results.append(answer.status_code)
                except httpx.HTTPError as exc:  # a reset or a read timeout is a failed request too
                    results.append(f"{type(exc).__name__}: {exc}")
                i += workers

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(worker, range(workers)))


TICK_SECONDS = 1.0  # the Serve controller's tick (Controller's default)


def test_mlflow_down_at_promotion_serving_flips_and_the_alias_moves_once_it_is_back(
    scfg, app_url, rows, mlflow_server, server_champion
) -> None:
    registry = ModelRegistry(scfg)
    champion = registry.alias_version(CHAMPION)
    candidate = _register_candidate(scfg)
    assert champion == server_champion.version.version != candidate
    spec = {
        "mode": "canary",
        "candidate_version": candidate,
        "canary": {
            "steps": [0.5, 1.0],
            "min_requests_per_step": 40,
            "min_seconds_per_step": 0,
            "max_p99_latency_ratio": 100.0,
        },
    }
    auth = {"Authorization": f"Bearer {TOKEN}"}
    started = httpx.post(f"{app_url}/rollout", json=spec, headers=auth, timeout=60)
    assert started.status_code == 200, started.text
    # The candidate's bytes come from MLflow: its slot loads them while the server is still up.
    _wait_for(
        f"candidate {candidate} loaded",
        lambda: httpx.get(f"{app_url}/healthz", timeout=30).json().get("candidate_loaded") == candidate,
        timeout=60,
    )
    with httpx.Client(timeout=30) as client:
        user = iter(range(10**6))

        def reached_last_step() -> bool:
            for _ in range(10):
                i = next(user)
                answer = client.post(
                    f"{app_url}/predict",
                    json={"instances": [_features(rows[i % len(rows)])]},
                    headers={"X-User-Id": f"s{i}"},
                )
                assert answer.status_code == 200, answer.text
            return _rollout(app_url)["rollout"]["step_index"] == 1

        _wait_for("canary at its last step", reached_last_step, timeout=90, poll=0)

    mlflow_server.stop(signal.SIGKILL)  # a crash, right before the last step's check would promote
    assert _rollout(app_url)["rollout"]["phase"] == "CANARY"  # the promotion has not happened yet

    stop, results = threading.Event(), []
    load = threading.Thread(target=_drive, args=(app_url, rows, stop, results))
    load.start()
    try:
        status = _wait_for(
            "PROMOTED or ROLLED_BACK with MLflow down",
            lambda: (s := _rollout(app_url))["rollout"]["phase"] in {"PROMOTED", "ROLLED_BACK"} and s,
            timeout=60,
        )
        time.sleep(1.0)  # keep the load on across the role flip
    finally:
        stop.set()
        load.join()
    assert status["rollout"]["phase"] == "PROMOTED", status["rollout"]["history"][-1]
    assert status["rollout"]["history"][-1]["reason"] == "canary passed every step"
    assert [r for r in results if r != 200] == [], "users must not see MLflow's outage"
    assert len(results) > 0
    # Serving flipped without MLflow: the promoted version answers as the champion from the slot it already had.
    answer = httpx.post(f"{app_url}/predict", json={"instances": [_features(rows[0])]}, timeout=30)
    assert answer.status_code == 200 and answer.headers["X-Model-Version"] == candidate
    assert answer.headers["X-Variant"] == "champion"
    # The alias cannot be read while MLflow is down; what the controller reports is the pending effect.
    pending = _wait_for(
        "the controller reports the alias move as pending",
        lambda: "effects pending" in str((s := _rollout(app_url))["last_tick"].get("error")) and s,
        timeout=10 * TICK_SECONDS,
    )
    assert "unreachable" in pending["last_tick"]["error"], pending["last_tick"]

    mlflow_server.start()  # same port, same backend store: the registry is as the crash left it
    _wait_for(
        f"champion alias on v{candidate}",
        lambda: ModelRegistry(scfg).alias_version(CHAMPION) == candidate,
        timeout=10 * TICK_SECONDS,  # MLflow's own client backoff alone would be up to 120 s here
    )
    settled = _wait_for(
        "the pending report cleared", lambda: "error" not in (s := _rollout(app_url))["last_tick"] and s, timeout=5
    )
    assert settled["rollout"]["phase"] == "PROMOTED", settled
