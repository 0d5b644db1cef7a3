"""Drive driftline on a two-node Ray cluster built on this machine; print one JSON summary line.

Run by ``tests/integration/test_cluster.py`` in a *subprocess*: the pytest process already runs the session's local
Ray and must not join another one. The cluster is ``ray.cluster_utils.Cluster`` (a head and one worker node, each
with its own raylet, object store and ports). Every step goes through driftline's own entry points with
``ray.address`` pointing at the cluster, as a job on a real cluster would:

1. ``train_champion(cfg)`` with ``train.num_workers=2``: where the two ``RayTrainWorker`` actors ran (state API).
2. ``run_drift_job(..., engine="ray")`` on a multi-file Parquet window: where its ``_summarize_block`` tasks ran,
   and that the Ray Data summary equals the in-memory one.
3. ``build_app(cfg)`` on Serve with one HTTP proxy on the head: ``POST /predict`` answers with the champion;
   then the model slots autoscale: 16 clients until the champion slot scales out, one client until it scales
   back in, every request counted.

Then Serve, the driver's Ray connection and the cluster are shut down (``cluster.shutdown()`` kills only this
cluster's processes). The caller should set ``RAY_TMPDIR`` to a private folder so the cluster's session files and
its ``ray_current_cluster`` address file do not touch the machine's default ``/tmp/ray``.

    python tests/integration/cluster_driver.py --workdir /tmp/dl-cluster --node-cpus 3 --cpus-per-worker 2
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from driftline.core.net import free_port

SUMMARY_PREFIX = "CLUSTER_SUMMARY "
STEPS = ("train", "drift", "serve")
_STATE_LIMIT = 10_000


def _poll(fetch: Callable[[], list[Any]], ok: Callable[[list[Any]], bool], timeout: float = 20.0) -> list[Any]:
    """Task and actor events reach the state API a little after the fact: retry until ``ok`` or timeout."""
    deadline = time.monotonic() + timeout
    found: list[Any] = []
    while time.monotonic() < deadline:
        try:
            found = fetch()
        except Exception:  # the state API can be briefly unavailable while the dashboard starts
            found = []
        if ok(found):
            return found
        time.sleep(0.5)
    return found


def _actor_nodes(address: str, class_name: str) -> list[str]:
    from ray.util.state import list_actors

    def fetch() -> list[Any]:
        found = list_actors(address=address, limit=_STATE_LIMIT, raise_on_missing_output=False)
        return [a for a in found if a.class_name.startswith(class_name)]

    return [a.node_id for a in _poll(fetch, lambda xs: len(xs) > 0)]


def _task_nodes(address: str, name_part: str, expected: int) -> list[str]:
    from ray.util.state import list_tasks

    def fetch() -> list[Any]:
        # The name filter is client-side (the API matches whole names only), so fetch well past the default 100.
        tasks = list_tasks(
            address=address, filters=[("state", "=", "FINISHED")], limit=_STATE_LIMIT, raise_on_missing_output=False
        )
        return [t for t in tasks if name_part in t.name]

    return [t.node_id for t in _poll(fetch, lambda xs: len(xs) >= expected)]


def _write_window(cfg: Any, folder: Path, rows: slice, files: int) -> int:
    """Rows of the configured stream as ``files`` Parquet files, so Ray Data reads several blocks."""
    import numpy as np

    from driftline.datasets import load_stream

    stream, _ = load_stream(cfg.data)
    window = stream.iloc[rows].reset_index(drop=True)
    folder.mkdir(parents=True, exist_ok=True)
    for i, part in enumerate(np.array_split(np.arange(len(window)), files)):
        window.iloc[part].to_parquet(folder / f"part-{i:02d}.parquet", index=False)
    return len(window)


def step_train(cfg: Any) -> dict[str, Any]:
    from driftline.train_jobs.champion import train_champion

    t0 = time.perf_counter()
    result = train_champion(cfg)
    return {
        "seconds": round(time.perf_counter() - t0, 1),
        "version": result.version.version,
        "val_accuracy": result.val_accuracy,
        "worker_nodes": _actor_nodes(cfg.ray.address, "RayTrainWorker"),
    }


def step_drift(cfg: Any, root: Path, files: int) -> dict[str, Any]:
    from driftline.monitors.drift_job import run_drift_job

    window = root / "window"
    rows = _write_window(cfg, window, slice(cfg.data.n_rows // 2, cfg.data.n_rows), files)
    reference = f"models:/{cfg.mlflow.model_name}@champion"
    t0 = time.perf_counter()
    ray_report = run_drift_job(reference, window, root / "report_ray", config=cfg, engine="ray", log_to_mlflow=False)
    seconds = time.perf_counter() - t0
    memory_report = run_drift_job(reference, window, None, config=cfg, engine="memory", log_to_mlflow=False)

    def stats(report: dict[str, Any]) -> dict[str, Any]:
        return {
            f"{name}/{test}": (round(res["statistic"], 12), res["drifted"])
            for name, feat in report["features"].items()
            for test, res in feat["tests"].items()
        }

    return {
        "seconds": round(seconds, 1),
        "rows": rows,
        "report_rows": ray_report["window"]["rows"],
        "files": files,
        "block_nodes": _task_nodes(cfg.ray.address, "_summarize_block", expected=files),
        "same_as_memory_engine": stats(ray_report) == stats(memory_report),
        "ray_stats": stats(ray_report),
        "dataset_drift": ray_report["summary"]["dataset_drift"],
    }


def step_serve(cfg: Any, version: str) -> dict[str, Any]:
    import httpx
    from ray import serve

    from driftline.datasets import load_stream
    from driftline.serve_apps.app import build_app

    port = free_port()
    # One proxy: every node of this "cluster" shares one IP, so EveryNode would have two proxies racing for the port.
    serve.start(proxy_location="HeadOnly", http_options={"host": "127.0.0.1", "port": port})
    t0 = time.perf_counter()
    serve.run(build_app(cfg), name="cluster", route_prefix="/cluster")
    stream, schema = load_stream(cfg.data)
    rows = stream.iloc[:5][list(schema.feature_names)].to_dict("records")
    url = f"http://127.0.0.1:{port}/cluster"
    response = httpx.post(f"{url}/predict", json={"instances": rows}, timeout=60)
    body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
    health = httpx.get(f"{url}/healthz", timeout=30).json()
    out = {
        "seconds": round(time.perf_counter() - t0, 1),
        "port": port,
        "status_code": response.status_code,
        "model_version": response.headers.get("X-Model-Version"),
        "n_predictions": len(body.get("predictions", [])),
        "health": health,
        "expected_version": version,
        "replica_nodes": _actor_nodes(cfg.ray.address, "ServeReplica:cluster:"),
    }
    out["autoscale"] = _ramp_up_and_down(url, rows, "cluster", cfg.ray.address)
    serve.delete("cluster")
    serve.shutdown()
    return out


def _running_replicas(app: str, deployment: str) -> int:
    from ray import serve

    states = serve.status().applications[app].deployments[deployment].replica_states
    return int(states.get("RUNNING", 0))


def _ramp_up_and_down(url: str, rows: list[dict[str, Any]], app: str, address: str) -> dict[str, Any]:
    """Closed-loop load from many clients until the champion slot scales out, then one client until it scales back
    in; every request's outcome is counted (a failed one is any exception or a status other than 200)."""
    import threading

    import httpx

    outcomes = {"ok": 0, "failed": 0}
    errors: list[str] = []
    lock = threading.Lock()
    active = [0]  # clients 0 .. active-1 send; the others wait
    stop = threading.Event()

    def client(c: int) -> None:
        with httpx.Client(timeout=60) as http:
            i = c
            while not stop.is_set():
                if c >= active[0]:
                    time.sleep(0.05)
                    continue
                try:
                    response = http.post(f"{url}/predict", json={"instances": [rows[i % len(rows)]]})
                    failed = response.status_code != 200
                    error = f"{response.status_code}: {response.text[:200]}"
                except httpx.HTTPError as exc:
                    failed, error = True, repr(exc)
                with lock:
                    outcomes["failed" if failed else "ok"] += 1
                    if failed and len(errors) < 5:
                        errors.append(error)
                i += 16

    threads = [threading.Thread(target=client, args=(c,), daemon=True) for c in range(16)]
    for thread in threads:
        thread.start()
    t0 = time.perf_counter()
    timeline: list[tuple[float, int, int]] = []  # (seconds, slot_a replicas, slot_b replicas)

    def sample() -> int:
        running = _running_replicas(app, "slot_a")
        timeline.append((round(time.perf_counter() - t0, 1), running, _running_replicas(app, "slot_b")))
        return running

    active[0] = 16  # ramp up
    deadline = time.monotonic() + 120  # the autoscaler reacts within seconds; a loaded machine slows its metrics
    while sample() < 2 and time.monotonic() < deadline:
        time.sleep(1.0)
    peak = max(t[1] for t in timeline)
    scaled_out_after = timeline[-1][0]
    peak_nodes = sorted({n for n in _actor_nodes(address, f"ServeReplica:{app}:slot_a") if n})  # None: pending
    active[0] = 1  # ramp down: one client keeps sending through the scale-in
    deadline = time.monotonic() + 60
    while sample() > 1 and time.monotonic() < deadline:
        time.sleep(1.0)
    time.sleep(2.0)  # requests across the scale-in's replica drain
    stop.set()
    for thread in threads:
        thread.join(timeout=10)
    return {
        "peak_replicas": peak,
        "final_replicas": timeline[-1][1],
        "candidate_slot_replicas": sorted({t[2] for t in timeline}),
        "scaled_out_after_seconds": scaled_out_after,
        "scaled_in_after_seconds": timeline[-1][0],
        "requests": outcomes,
        "errors": errors,
        "peak_replica_nodes": peak_nodes,
        "timeline": timeline,
    }


def _scale_down_environment() -> None:
    """Set before the nodes start: raylets and their workers inherit this process's environment."""
    # Ray Data packs Parquet row groups into 128 MiB read tasks; a few-MB test window would be one task on one
    # node. One row group per read task gives the several blocks a production-sized window has.
    os.environ.setdefault("RAY_DATA_PARQUET_BIN_PACKING_BYTES", "1")
    # Logical CPUs here are bookkeeping (the machine has 2 cores): keep torch to one thread per worker.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.pop("RAY_ADDRESS", None)  # this driver must only ever join the cluster it starts
    # Serve pushes the load the autoscaler sees every 10 s by default; the ramp test needs it every second.
    os.environ.setdefault("RAY_SERVE_HANDLE_AUTOSCALING_METRIC_PUSH_INTERVAL_S", "1")
    os.environ.setdefault("RAY_SERVE_REPLICA_AUTOSCALING_METRIC_PUSH_INTERVAL_S", "1")


def run(args: argparse.Namespace) -> dict[str, Any]:
    _scale_down_environment()
    import ray
    from ray.cluster_utils import Cluster

    from driftline.core.config_loader import load_config
    from driftline.core.ray_runtime import ensure_ray

    root = Path(args.workdir).resolve()
    summary: dict[str, Any] = {"ok": False}
    t0 = time.perf_counter()
    node_args = {"num_cpus": args.node_cpus, "object_store_memory": 200 * 1024 * 1024}
    cluster: Cluster | None = None
    try:
        # The dashboard (off by default in driftline's ensure_ray) serves the state API used to locate tasks.
        # A free dashboard port: 8265 may belong to another Ray on this machine (it failed a fresh-clone run once).
        head = {**node_args, "include_dashboard": True, "dashboard_port": free_port()}
        cluster = Cluster(initialize_head=True, head_node_args=head)
        cluster.add_node(**node_args)
        cluster.wait_for_nodes()
        summary["cluster_start_seconds"] = round(time.perf_counter() - t0, 1)
        cfg = load_config(
            None,
            workdir=root / "work",
            overrides={
                "ray.address": cluster.address,  # what RAY_ADDRESS does for a job on a real cluster
                "data.n_rows": 8000,
                "train.train_rows": 2000,
                "train.epochs": 2,
                "train.num_workers": 2,
                "train.cpus_per_worker": args.cpus_per_worker,
                "serve.router.num_cpus": 0.1,
                "serve.model.num_cpus": 0.1,
                "serve.placement": "remote",  # the model slots' own autoscaling is what this checks
                # Fast enough to watch in a test: scale out after 1 s of load, in after 4 s without.
                "serve.model.autoscaling": {
                    "min_replicas": 1,
                    "max_replicas": 3,
                    "target_ongoing_requests": 2.0,
                    "upscale_delay_s": 1.0,
                    "downscale_delay_s": 4.0,
                    "look_back_period_s": 2.0,
                    "metrics_interval_s": 0.5,
                },
            },
        )
        ensure_ray(cfg)
        summary["nodes"] = sorted(n["NodeID"] for n in ray.nodes() if n["Alive"])
        summary["driver_node"] = ray.get_runtime_context().get_node_id()
        steps = args.steps.split(",")
        summary["train"] = step_train(cfg)  # every other step needs the champion it registers
        if "drift" in steps:
            summary["drift"] = step_drift(cfg, root, args.files)
        if "serve" in steps:
            summary["serve"] = step_serve(cfg, summary["train"]["version"])
        summary["ok"] = True
    except Exception as exc:
        summary["error"] = f"{type(exc).__name__}: {exc}"
        summary["traceback"] = traceback.format_exc()
    finally:
        # Printed before the teardown too: once under heavy load the driver's core worker exited the process while
        # Ray shut down (after every check had run), and the summary was lost with it.
        print(SUMMARY_PREFIX + json.dumps(summary), flush=True)
        t1 = time.perf_counter()
        ray.shutdown()
        if cluster is not None:
            cluster.shutdown()
        summary["shutdown_seconds"] = round(time.perf_counter() - t1, 1)
        summary["total_seconds"] = round(time.perf_counter() - t0, 1)
    return summary


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workdir", required=True, help="scratch folder: MLflow store, Ray Train storage, windows")
    p.add_argument("--node-cpus", type=int, default=3, help="logical CPUs of each of the two nodes")
    p.add_argument("--cpus-per-worker", type=float, default=2.0, help="train.cpus_per_worker")
    p.add_argument("--files", type=int, default=4, help="Parquet files in the drift window (one block each)")
    p.add_argument("--steps", default=",".join(STEPS), help="comma-separated subset of train,drift,serve")
    summary = run(p.parse_args(argv))
    print(SUMMARY_PREFIX + json.dumps(summary), flush=True)
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
