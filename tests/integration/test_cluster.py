"""driftline on a two-node Ray cluster on this machine: drift job, 2-worker Ray Train and Serve span both nodes.

The pytest process already runs the session's local Ray (``ray_session``), so the cluster lives in a subprocess
(``cluster_driver.py``) with its own Ray temp folder: ``ray stop`` is never called and no second Ray is joined
from here. The driver prints one JSON summary; the assertions are on that.

Node shape: 2 nodes x 3 *logical* CPUs and ``train.cpus_per_worker=2``. Ray Train places its workers with the
PACK strategy (``fit_on_ray`` does not set one), so two workers that fit on one node land on one node; 2 of 3
CPUs per worker makes the second worker go to the other node and leaves 1 CPU per node for the Ray Data tasks
that feed the trainer and for the drift job's block tasks (1 CPU each). Torch runs one thread per process.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DRIVER = Path(__file__).with_name("cluster_driver.py")
STARTUP_TIMEOUT = "timed out during startup"
TIMEOUT_S = 540  # measured 250-280 s with the 2 cores shared with other test runs (load average 30-45)


def _run_driver(scratch: Path) -> dict[str, Any]:
    # A short private RAY_TMPDIR: the cluster's sockets, session logs and its "current cluster" address file stay
    # out of /tmp/ray, where the session's Ray (and anyone's `ray.init(address="auto")`) looks.
    ray_tmp = Path(tempfile.mkdtemp(prefix="dlc-", dir="/tmp"))
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS" and not k.startswith("MLFLOW_")}
    env |= {"RAY_TMPDIR": str(ray_tmp), "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, str(DRIVER), "--workdir", str(scratch), "--node-cpus", "3", "--cpus-per-worker", "2"]
    started = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("CLUSTER_SUMMARY ")]
    assert lines, f"driver printed no summary (exit {done.returncode}):\n{done.stderr[-4000:]}"
    summary = json.loads(lines[-1].removeprefix("CLUSTER_SUMMARY "))
    summary["wall_seconds"] = round(time.perf_counter() - started, 1)
    summary["leftover_processes"] = _leftovers(ray_tmp)
    print(json.dumps({k: v for k, v in summary.items() if k != "traceback"}, indent=1))  # shown with pytest -s
    if summary["ok"]:
        shutil.rmtree(ray_tmp, ignore_errors=True)  # kept on failure: the cluster's session logs are in there
    else:
        summary["stderr"] = done.stderr[-3000:]
    return summary


def _leftovers(ray_tmp: Path, grace_s: float = 20.0) -> list[str]:
    """Processes of the cluster (their command lines name its private temp folder) still alive after ``grace_s``."""
    deadline = time.monotonic() + grace_s
    while True:
        found = subprocess.run(["pgrep", "-af", str(ray_tmp)], capture_output=True, text=True).stdout.splitlines()
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


@pytest.fixture(scope="module")
def summary(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    result = _run_driver(tmp_path_factory.mktemp("cluster"))
    if not result["ok"] and STARTUP_TIMEOUT in result.get("error", ""):
        # Ray gives a raylet a fixed 30 s to register; on an overloaded machine that can pass. Once more, fresh.
        result = _run_driver(tmp_path_factory.mktemp("cluster-retry"))
    assert result["ok"], f"{result.get('error')}\n{result.get('traceback')}\n{result.get('stderr')}"
    return result


def test_the_cluster_has_two_nodes_and_shuts_down(summary) -> None:
    assert len(summary["nodes"]) == 2
    assert summary["driver_node"] in summary["nodes"]
    assert summary["leftover_processes"] == []  # every process of the cluster is gone
    # Timed in the driver; under heavy load its process has once exited in the middle of Ray's shutdown (after
    # every check ran), leaving only the summary printed before it: then the check above is what proves it.
    assert summary.get("shutdown_seconds", 0.0) < 60


def test_two_ray_train_workers_run_on_both_nodes(summary) -> None:
    train = summary["train"]
    assert len(train["worker_nodes"]) >= 2  # a restarted worker group would add more actors, never fewer
    assert set(train["worker_nodes"]) == set(summary["nodes"])
    assert 0.6 < train["val_accuracy"] <= 1.0 and train["version"] == "1"


def test_drift_job_blocks_run_on_both_nodes_and_match_the_memory_engine(summary) -> None:
    drift = summary["drift"]
    assert drift["report_rows"] == drift["rows"]
    assert len(drift["block_nodes"]) == drift["files"]  # one Ray Data read+summarise task per Parquet file
    assert set(drift["block_nodes"]) == set(summary["nodes"])
    assert drift["same_as_memory_engine"], "Ray Data summaries merged across nodes must give the same statistics"


def test_serve_answers_predictions_from_the_cluster(summary) -> None:
    serve = summary["serve"]
    assert serve["status_code"] == 200 and serve["n_predictions"] == 5
    assert serve["model_version"] == serve["expected_version"] == summary["train"]["version"]
    assert serve["health"]["champion_version"] == summary["train"]["version"]
    assert serve["replica_nodes"], "the Serve app reported no replica nodes"  # an empty list proved nothing
    assert set(serve["replica_nodes"]) <= set(summary["nodes"])


def test_model_slots_scale_out_and_back_in_with_no_failed_request(summary) -> None:
    scaling = summary["serve"]["autoscale"]
    assert scaling["peak_replicas"] >= 2, scaling["timeline"]  # 16 clients, 2 requests per replica targeted
    assert scaling["final_replicas"] == 1, scaling["timeline"]  # one client: back to min_replicas
    assert scaling["candidate_slot_replicas"] == [1]  # no candidate loaded: its slot stays at the minimum
    assert scaling["requests"]["failed"] == 0, scaling["errors"]
    assert scaling["requests"]["ok"] > 100
