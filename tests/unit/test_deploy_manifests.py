"""The deployment examples stay valid: every YAML under deploy/ parses, and what it names exists in this repo.

No Kubernetes here, so this checks what can go stale without one: YAML syntax, the resource kinds, the Serve
import path and config file, and that every RayJob entrypoint is accepted by the module's own argument parser.
"""

from __future__ import annotations

import importlib
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from driftline.core.config import REPO_ROOT
from driftline.core.config_loader import load_config

DEPLOY = REPO_ROOT / "deploy"
KUBERAY = DEPLOY / "kuberay"
MANIFESTS = sorted([*DEPLOY.rglob("*.yaml"), *DEPLOY.rglob("*.yml")])
IMAGE_ROOT = "/app/"  # where the driftline image keeps the repository (deploy/kuberay/README.md)


def _docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


def _kinds(path: Path) -> dict[str, dict[str, Any]]:
    return {d["kind"]: d for d in _docs(path)}


def _repo_path(path_in_image: str) -> Path:
    assert path_in_image.startswith(IMAGE_ROOT), path_in_image
    return REPO_ROOT / path_in_image.removeprefix(IMAGE_ROOT)


def test_the_expected_manifests_exist() -> None:
    names = {p.name for p in MANIFESTS}
    assert {"rayservice.yaml", "rayjob-drift.yaml", "rayjob-retrain.yaml", "mlflow.yaml"} <= names
    assert (KUBERAY / "README.md").is_file()


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: str(p.relative_to(DEPLOY)))
def test_every_manifest_is_valid_kubernetes_yaml(path: Path) -> None:
    docs = _docs(path)
    assert docs, f"{path} is empty"
    for doc in docs:
        assert isinstance(doc, dict) and {"apiVersion", "kind", "metadata"} <= set(doc), doc
        assert doc["metadata"].get("name") or doc["metadata"].get("generateName")


def test_cluster_config_loads_with_the_driftline_loader() -> None:
    cfg = load_config(REPO_ROOT / "configs" / "cluster.yaml")
    assert cfg.ray.address == "auto"
    assert cfg.tracking_uri == "http://mlflow:5000"
    assert cfg.train.num_workers == 2
    assert cfg.workdir_path.is_absolute() and str(cfg.workdir) == "/mnt/driftline"
    assert cfg.serve.admin_token is None  # the token comes from a Secret, never from the file


def test_rayservice_runs_driftlines_serve_app_with_the_cluster_config() -> None:
    service = _kinds(KUBERAY / "rayservice.yaml")["RayService"]
    serve_config = yaml.safe_load(service["spec"]["serveConfigV2"])  # a YAML document inside a string
    (app,) = serve_config["applications"]
    module, attr = app["import_path"].split(":")
    assert module == "driftline.serve_apps.app" and callable(getattr(importlib.import_module(module), attr))
    load_config(_repo_path(app["args"]["config"]))
    head = service["spec"]["rayClusterConfig"]["headGroupSpec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e for e in head["env"]}
    assert env["DRIFTLINE_WORKDIR"]["value"] == "/mnt/driftline"
    assert env["DRIFTLINE_ADMIN_TOKEN_SHA256"]["valueFrom"]["secretKeyRef"]["name"] == "driftline-admin"
    assert service["spec"]["rayClusterConfig"]["workerGroupSpecs"], "a RayService needs worker pods for replicas"


def _entrypoint(path: Path) -> list[str]:
    job = _kinds(path)["RayJob"]
    argv = shlex.split(job["spec"]["entrypoint"])
    assert argv[:2] == ["python", "-m"], argv
    return argv[2:]


def test_drift_rayjob_entrypoint_parses() -> None:
    module, *args = _entrypoint(KUBERAY / "rayjob-drift.yaml")
    assert module == "driftline.monitors.drift_job"
    parsed = importlib.import_module(module)._parser().parse_args(args)
    assert parsed.engine == "ray"
    load_config(_repo_path(parsed.config))
    assert _repo_path(parsed.drift_config).is_file()


def test_retrain_rayjob_entrypoint_parses() -> None:
    module, *args = _entrypoint(KUBERAY / "rayjob-retrain.yaml")
    assert module == "driftline.train_jobs.retrain"
    parsed = importlib.import_module(module).build_parser().parse_args(args)
    load_config(_repo_path(str(parsed.config)))
    assert _repo_path(str(parsed.retrain_config)).is_file()


def test_mlflow_server_has_a_database_and_an_artifact_store() -> None:
    kinds = _kinds(KUBERAY / "mlflow.yaml")
    services = {d["metadata"]["name"] for d in _docs(KUBERAY / "mlflow.yaml") if d["kind"] == "Service"}
    assert "mlflow" in services  # configs/cluster.yaml points at http://mlflow:5000
    (container,) = kinds["Deployment"]["spec"]["template"]["spec"]["containers"]
    args = dict(a.removeprefix("--").split("=", 1) for a in container["args"] if "=" in a)
    env = {e["name"]: e for e in container["env"]}
    assert env["MLFLOW_BACKEND_STORE_URI"]["valueFrom"]["secretKeyRef"]["key"] == "uri"  # a postgresql:// URI
    assert args["artifacts-destination"].startswith("s3://") and "--serve-artifacts" in container["args"]
    assert "mlflow:5000" in args["allowed-hosts"].split(",")


def _containers(path: Path) -> list[dict[str, Any]]:
    """Every container of every pod template in ``path`` (RayService, RayJob, Deployment, StatefulSet)."""
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("containers"), list):
                found.extend(node["containers"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for doc in _docs(path):
        walk(doc)
    return found


@pytest.mark.parametrize("name", ["rayservice.yaml", "rayjob-drift.yaml", "rayjob-retrain.yaml"])
def test_ray_pods_require_rays_token_and_hold_no_plain_admin_token(name: str) -> None:
    containers = _containers(KUBERAY / name)
    assert containers
    for container in containers:
        env = {e["name"]: e for e in container.get("env", [])}
        assert env["RAY_AUTH_MODE"]["value"] == "token", container["name"]
        assert env["RAY_AUTH_TOKEN"]["valueFrom"]["secretKeyRef"]["name"] == "driftline-ray"
        assert "DRIFTLINE_ADMIN_TOKEN" not in env  # at most its digest, on the serving cluster
        assert env["MLFLOW_TRACKING_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "mlflow-client"


def test_the_serving_cluster_checks_admin_calls_against_a_digest_and_fences_rays_ports() -> None:
    head = _containers(KUBERAY / "rayservice.yaml")[0]
    env = {e["name"]: e for e in head["env"]}
    assert env["DRIFTLINE_ADMIN_TOKEN_SHA256"]["valueFrom"]["secretKeyRef"] == {
        "name": "driftline-admin",
        "key": "sha256",
    }
    policy = _kinds(KUBERAY / "rayservice.yaml")["NetworkPolicy"]
    assert policy["spec"]["podSelector"]["matchLabels"] == {"ray.io/is-ray-node": "yes"}
    open_ports = [p["port"] for rule in policy["spec"]["ingress"] if "from" not in rule for p in rule["ports"]]
    assert open_ports == [8000]  # only Serve is reachable from outside driftline's pods


def test_mlflow_requires_a_login_and_keeps_its_database_password_off_the_command_line() -> None:
    (container,) = _kinds(KUBERAY / "mlflow.yaml")["Deployment"]["spec"]["template"]["spec"]["containers"]
    assert "--app-name=basic-auth" in container["args"]
    assert not any("postgresql://" in a or "PASSWORD" in a for a in container["args"] + container["command"])
    env = {e["name"]: e for e in container["env"]}
    assert env["MLFLOW_BACKEND_STORE_URI"]["valueFrom"]["secretKeyRef"] == {"name": "mlflow-db", "key": "uri"}
