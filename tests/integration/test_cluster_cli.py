"""The cluster how-to's commands (``docs/how-to/cluster.md``), run as written, against a `ray start --head`
cluster with Ray token auth on.

The commands are read from that page itself (so the test follows the docs, and fails when they drift), with only
the placeholders, the config path and the ``/mnt/driftline`` work folder substituted. They run through the ``ray``
and ``serve`` CLIs of ``.venv/bin`` in subprocesses, with ``cwd`` at the repository root, so ``--working-dir .``
uploads this checkout.

What it proves:

- ``ray job submit`` of ``driftline train``, of the drift job (``--engine ray``) and of the retrain job, exactly as
  the page writes them after its ``export RAY_ADDRESS=... RAY_AUTH_MODE=token RAY_AUTH_TOKEN=...``, each end
  SUCCEEDED and leave what they promise: a registered champion, a drift report over the Serve app's prediction and
  feedback logs, a new gated candidate version with its lineage (the champion alias does not move).
- The cluster really has auth on: the same submit and ``serve status`` without the token (401) or with a wrong one
  (403) are refused, and no job was created.
- ``serve status -a $RAY_ADDRESS`` (the page's line) answers through token auth, showing the driftline app (deployed
  with ``serve deploy`` from a copy of ``configs/serve.yaml``) RUNNING with every deployment HEALTHY; that app on
  the cluster writes the prediction and feedback logs the drift job then reads (every label accepted).
- What ``--working-dir .`` shipped, as unpacked on the node, holds the code and configs and no ``.venv``, ``.git``
  (Ray 2.60's default excludes) or ``.driftline`` (``.gitignore``), under 20 MB.

The cluster is separate from the session's in-process Ray: its own short ``--temp-dir``/``RAY_TMPDIR``, free
ports for everything it listens on, its own token (never ``~/.ray/auth_token``). It is stopped by ending the
processes of the ``ray start`` session (never ``ray stop``: it matches Ray processes by name machine-wide), and the
test fails if any of its processes is left. The nodes' ``python`` is ``.venv/bin/python`` (first on ``PATH`` when the
head starts), as a cluster image would ship driftline's dependencies.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
import yaml

from driftline.core.config_loader import load_config
from driftline.core.net import free_port
from driftline.datasets import load_stream

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent  # .venv/bin: the ray and serve CLIs, and the python the cluster's jobs run
CLUSTER_PAGE = REPO / "docs" / "how-to" / "cluster.md"
MODEL = "driftline-model"
JOB_TIMEOUT_S = 300
ROWS_SERVED = 300


@dataclass
class RayHead:
    dashboard: str
    token: str
    temp_dir: Path
    session_id: int
    env: dict[str, str]  # what the page's `export` line sets, on top of a clean environment

    def run(self, args: list[str], *, env: dict[str, str] | None = None, timeout: float = 60) -> Any:
        cmd = [str(BIN / args[0]), *args[1:]]
        return subprocess.run(
            cmd, cwd=REPO, env=env or self.env, capture_output=True, text=True, timeout=timeout, check=False
        )

    def jobs(self, job_id: str = "") -> Any:
        """The job API's JSON: every job, or one."""
        got = httpx.get(f"{self.dashboard}/api/jobs/{job_id}", headers={"Authorization": f"Bearer {self.token}"})
        assert got.status_code == 200, got.text
        return got.json()


def _clean_env() -> dict[str, str]:
    # Nothing of the session's Ray leaks in: its address, and the RAY_AUTH_MODE that ray.init() set in this process.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_", "MLFLOW_", "DRIFTLINE_"))}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _cluster_processes(session_id: int, markers: tuple[str, ...]) -> list[psutil.Process]:
    """Processes of the `ray start` session, plus any whose command line names this cluster's folders (job drivers
    run in sessions of their own)."""
    found = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        try:
            cmdline = " ".join(proc.info["cmdline"] or [])
            mine = os.getsid(proc.pid) == session_id or any(m in cmdline for m in markers)
            if mine and proc.pid != os.getpid():
                found.append(proc)
        except (ProcessLookupError, PermissionError, psutil.NoSuchProcess):
            continue
    return found


def _stop(session_id: int, markers: tuple[str, ...]) -> list[str]:
    """SIGTERM, then SIGKILL after a grace period; returns what is still alive after that (should be nothing)."""
    procs = _cluster_processes(session_id, markers)
    for proc in procs:
        try:
            proc.send_signal(signal.SIGTERM)
        except psutil.NoSuchProcess:
            continue
    _, alive = psutil.wait_procs(procs, timeout=5)  # a throwaway cluster: no need for a long grace
    for proc in alive:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            continue
    psutil.wait_procs(alive, timeout=10)
    deadline = time.monotonic() + 10
    while (left := _cluster_processes(session_id, markers)) and time.monotonic() < deadline:
        for proc in left:  # a watcher or worker that appeared while the others were ending
            try:
                proc.kill()
            except psutil.NoSuchProcess:
                continue
        time.sleep(0.5)
    return [f"{p.pid} {' '.join(p.cmdline())[:100]}" for p in _cluster_processes(session_id, markers)]


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cluster-cli")


@pytest.fixture(scope="module")
def head(scratch: Path) -> Iterator[RayHead]:
    # Short: the raylet's and plasma's Unix sockets live under it (107-byte limit).
    temp_dir = Path(tempfile.mkdtemp(prefix="dlcli-", dir="/tmp"))
    token = secrets.token_hex(32)
    dashboard_port = free_port()
    env = _clean_env() | {"RAY_TMPDIR": str(temp_dir), "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token}
    ports = {
        "--port": free_port(),
        "--dashboard-port": dashboard_port,
        "--ray-client-server-port": free_port(),
        "--node-manager-port": free_port(),
        "--object-manager-port": free_port(),
        "--dashboard-agent-listen-port": free_port(),
        "--dashboard-agent-grpc-port": free_port(),
        "--metrics-export-port": free_port(),
        "--runtime-env-agent-port": free_port(),
    }
    cmd = [str(BIN / "ray"), "start", "--head", "--node-ip-address", "127.0.0.1", "--dashboard-host", "127.0.0.1"]
    cmd += ["--num-cpus", "2", "--include-dashboard", "true", "--temp-dir", str(temp_dir), "--disable-usage-stats"]
    cmd += ["--object-store-memory", str(256 * 1024 * 1024)]
    for flag, port in ports.items():
        cmd += [flag, str(port)]
    # Its own session: every process `ray start` leaves behind is findable (and stoppable) by that session id.
    starter = subprocess.Popen(cmd, env=env, cwd=scratch, start_new_session=True, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)  # fmt: skip
    markers = (str(temp_dir), str(scratch))
    try:
        out, _ = starter.communicate(timeout=120)
        assert starter.returncode == 0, f"ray start failed:\n{out[-4000:]}"
        url = f"http://127.0.0.1:{dashboard_port}"
        _wait_for_dashboard(url, token)
        yield RayHead(
            dashboard=url,
            token=token,
            temp_dir=temp_dir,
            session_id=starter.pid,
            env=_clean_env() | {"RAY_ADDRESS": url, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token},
        )
    finally:
        starter.kill()
        left = _stop(starter.pid, markers)
        shutil.rmtree(temp_dir, ignore_errors=True)
        assert left == [], f"processes of the test cluster left running: {left}"


def _wait_for_dashboard(url: str, token: str, timeout_s: float = 90) -> None:
    """The job API answers a little after `ray start` returns."""
    deadline = time.monotonic() + timeout_s
    last = ""
    while time.monotonic() < deadline:
        try:
            got = httpx.get(f"{url}/api/jobs/", headers={"Authorization": f"Bearer {token}"}, timeout=5)
            if got.status_code == 200:
                return
            last = f"{got.status_code} {got.text[:200]}"
        except httpx.HTTPError as exc:
            last = repr(exc)
        time.sleep(0.5)
    raise AssertionError(f"the dashboard's job API at {url} never answered: {last}")


def _documented_commands(head: RayHead, config: Path, workdir: Path) -> list[list[str]]:
    """The cluster page's shell lines as argv lists, the way bash would run them after the `export`.

    Only the placeholders, the config path and the cluster's work folder change; ``$RAY_ADDRESS`` is expanded from
    the exported environment; comments are dropped; everything else runs as written."""
    block = CLUSTER_PAGE.read_text().split("```bash\n", 1)[1].split("```", 1)[0]
    block = block.replace("\\\n", " ")
    block = block.replace("<ray head>:8265", head.dashboard.removeprefix("http://"))
    block = block.replace("<the cluster's Ray token>", head.token).replace("$RAY_ADDRESS", head.dashboard)
    block = block.replace("configs/cluster.yaml", str(config)).replace("/mnt/driftline", str(workdir))
    return [argv for line in block.splitlines() if (argv := shlex.split(line, comments=True))]


def _write_config(scratch: Path) -> tuple[Path, Path]:
    """configs/cluster.yaml with a temp work folder, MLflow on SQLite there (no server here), small data, fractional
    CPUs for a 2-CPU head."""
    doc = yaml.safe_load((REPO / "configs" / "cluster.yaml").read_text())
    workdir = scratch / "wd"
    workdir.mkdir()
    doc["workdir"] = str(workdir)
    doc["mlflow"]["tracking_uri"] = f"sqlite:///{workdir / 'mlflow.db'}"
    doc["data"] = {"scenario": "concept_drift", "n_rows": 6000}
    doc["train"] |= {"cpus_per_worker": 0.5, "train_rows": 2000, "epochs": 3}
    doc["serve"] |= {"host": "127.0.0.1", "port": free_port()}
    for deployment in ("router", "model"):  # one fixed replica each (no autoscaling) on a fraction of a CPU
        doc["serve"][deployment] = {"num_replicas": 1, "num_cpus": 0.1, "max_ongoing_requests": 64}
    path = scratch / "cluster.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path, workdir


def _submit(head: RayHead, argv: list[str]) -> str:
    """Run one `ray job submit ...` line; returns its job id after checking it exited 0 and SUCCEEDED."""
    done = head.run(argv, timeout=JOB_TIMEOUT_S)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{shlex.join(argv)}\nexit {done.returncode}:\n{output[-5000:]}"
    found = re.search(r"Job '(raysubmit_\w+)' submitted successfully", output)
    assert found, output[-3000:]
    job_id = found.group(1)
    assert head.jobs(job_id)["status"] == "SUCCEEDED", output[-3000:]
    return job_id


def _alias(workdir: Path, alias: str) -> Any:
    from mlflow import MlflowClient

    uri = f"sqlite:///{workdir / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)  # never mlflow.set_tracking_uri: the session's store
    return client.get_model_version_by_alias(MODEL, alias)


def _serve_traffic(head: RayHead, config: Path, scratch: Path) -> dict[str, Any]:
    """`serve deploy` a copy of configs/serve.yaml naming the test config, then predictions and their labels."""
    cfg = load_config(config)
    serve_doc = yaml.safe_load((REPO / "configs" / "serve.yaml").read_text())
    serve_doc["http_options"]["port"] = cfg.serve.port
    serve_doc["applications"][0]["args"]["config"] = str(config)
    serve_file = scratch / "serve.yaml"
    serve_file.write_text(yaml.safe_dump(serve_doc, sort_keys=False))
    deployed = head.run(["serve", "deploy", str(serve_file), "-a", head.dashboard], timeout=120)
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr

    url = f"http://127.0.0.1:{cfg.serve.port}"
    deadline = time.monotonic() + 180
    health: dict[str, Any] = {}
    while time.monotonic() < deadline and health.get("champion_version") != "1":
        try:
            health = httpx.get(f"{url}/healthz", timeout=10).json()
        except (httpx.HTTPError, ValueError):
            health = {}
        time.sleep(1.0)
    assert health.get("champion_version") == "1", health

    stream, schema = load_stream(cfg.data)
    rows = stream.iloc[4000 : 4000 + ROWS_SERVED]  # after the concept flip at row 3000: the drift job has work
    features = list(schema.feature_names)
    labels = []
    for start in range(0, ROWS_SERVED, 100):
        chunk = rows.iloc[start : start + 100]
        answer = httpx.post(f"{url}/predict", json={"instances": chunk[features].to_dict("records")}, timeout=60)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        labels += [
            {"request_id": body["request_id"], "row": i, "label": int(y), "token": body["feedback_tokens"][i]}
            for i, y in enumerate(chunk[schema.label])
        ]
    fed = httpx.post(f"{url}/feedback", json={"items": labels}, timeout=60)
    assert fed.status_code == 200, fed.text  # 200 = the labels are durable and their predictions in the Parquet log
    return dict(fed.json())


def _split(commands: list[list[str]]) -> dict[str, list[str]]:
    """The page's lines by role; the `--no-wait ... driftline run` control loop is not run here (it never ends)."""
    jobs = [c for c in commands if c[:3] == ["ray", "job", "submit"] and "--no-wait" not in c]
    found = {
        "export": next(c for c in commands if c[0] == "export"),
        "train": next(c for c in jobs if c[c.index("--") + 1 :][:4] == ["python", "-m", "driftline", "train"]),
        "drift": next(c for c in jobs if "driftline.monitors.drift_job" in c),
        "retrain": next(c for c in jobs if "driftline.train_jobs.retrain" in c),
        "serve status": next(c for c in commands if c[:2] == ["serve", "status"]),
    }
    assert len(jobs) == 3, jobs
    return found


def _check_serve_status(head: RayHead, argv: list[str]) -> None:
    status = head.run(argv)
    assert status.returncode == 0, status.stdout + status.stderr
    app = yaml.safe_load(status.stdout)["applications"]["driftline"]
    assert app["status"] == "RUNNING", status.stdout
    deployments = {name: d["status"] for name, d in app["deployments"].items()}
    assert deployments == dict.fromkeys(("router", "slot_a", "slot_b", "log_writer", "controller"), "HEALTHY")


def _check_upload(head: RayHead) -> None:
    """What `--working-dir .` shipped, as unpacked on the node: the code and configs, no virtualenv or work folder."""
    packages = head.temp_dir / "session_latest" / "runtime_resources" / "working_dir_files"
    unpacked = [p for p in packages.glob("_ray_pkg_*") if p.is_dir()]
    assert unpacked, "no working dir was unpacked on the node"
    for package in unpacked:
        assert (package / "driftline" / "__init__.py").is_file() and (package / "configs" / "retrain.yaml").is_file()
        assert not any((package / name).exists() for name in (".venv", ".driftline", ".git")), sorted(package.iterdir())
        size = sum(f.stat().st_size for f in package.rglob("*") if f.is_file())
        assert size < 20 * 1024 * 1024, f"{package} holds {size / 1e6:.1f} MB"


def test_a_submit_without_the_clusters_token_is_refused(head: RayHead, scratch: Path) -> None:
    readme = _split(_documented_commands(head, scratch / "unused.yaml", scratch / "unused"))
    no_token = {k: v for k, v in head.env.items() if not k.startswith("RAY_AUTH_")}
    wrong_token = head.env | {"RAY_AUTH_TOKEN": secrets.token_hex(32)}
    # The dashboard answers 401 "Missing authentication token" / 403 "Invalid authentication token".
    for env, expected in ((no_token, "Missing authentication token"), (wrong_token, "Invalid authentication token")):
        for argv in (readme["train"], readme["serve status"]):
            refused = head.run(argv, env=env)
            output = refused.stdout + refused.stderr
            assert refused.returncode != 0 and expected in output, f"{shlex.join(argv)}:\n{output[-3000:]}"
    assert head.jobs() == []  # nothing was submitted


def test_the_readme_cluster_commands_run_as_written(head: RayHead, scratch: Path) -> None:
    took: dict[str, float] = {}
    mark = time.monotonic()

    def lap(step: str) -> None:
        nonlocal mark
        took[step], mark = round(time.monotonic() - mark, 1), time.monotonic()

    config, workdir = _write_config(scratch)
    readme = _split(_documented_commands(head, config, workdir))
    exported = dict(item.split("=", 1) for item in readme["export"][1:])
    assert exported == {"RAY_ADDRESS": head.dashboard, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": head.token}
    assert {k: head.env[k] for k in exported} == exported  # the environment every command below runs in

    _submit(head, readme["train"])
    assert str(_alias(workdir, "champion").version) == "1"
    lap("train job")

    fed = _serve_traffic(head, config, scratch)
    assert fed["counts"] == {"accepted": ROWS_SERVED}, fed["counts"]
    _check_serve_status(head, readme["serve status"])
    lap("serve deploy, traffic, status")

    _submit(head, readme["drift"])
    report = json.loads((workdir / "reports" / "latest" / "report.json").read_text())
    assert report["window"]["rows"] == ROWS_SERVED and report["window"]["labelled_rows"] == ROWS_SERVED, report
    assert report["timings"]["engine"] == "ray"
    assert (workdir / "reports" / "latest" / "report.html").is_file()
    lap("drift job")

    (workdir / "windows").mkdir()
    stream, _ = load_stream(load_config(config).data)
    stream.iloc[3000:5000].to_parquet(workdir / "windows" / "latest.parquet")  # the new concept, labelled
    _submit(head, readme["retrain"])
    candidate = _alias(workdir, "candidate")
    assert str(candidate.version) == "2"
    assert candidate.tags["driftline.trigger"] == "manual" and candidate.tags["driftline.parent_version"] == "1"
    assert str(_alias(workdir, "champion").version) == "1"  # a retrain never moves it
    lap("retrain job")

    assert sorted(j["status"] for j in head.jobs()) == ["SUCCEEDED"] * 3
    _check_upload(head)
    print(f"documented cluster commands, seconds per step: {took}")  # shown with pytest -s
