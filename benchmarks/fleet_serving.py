"""A fleet in one Serve application (issue #20): memory per model, latency as models are added, promotion time.

    PYTHONPATH=. python benchmarks/fleet_serving.py                       # N = 1, 10, 30, 100
    PYTHONPATH=. python benchmarks/fleet_serving.py --sizes 1,10 --rate 40 --seconds 15 --out /tmp/fleet.json

Setup (untimed): a local Ray (``num_cpus=2``), MLflow and state in a temporary folder, and up to max(N) registered
models, each trained on its own seeded table (the synthetic stream with its own seed): even ones small MLPs (one
epoch), odd ones xgboost boosters (20 rounds). Then, for each N:

- one application serving N models, all ``inline`` (one router replica at 0.1 CPU, the log writer, the controller);
- **memory**: the proportional set size (PSS: shared pages split between the processes sharing them) of every
  process of this Ray cluster, summed, once the app is up and every model answered; the slope per added model is
  the least-squares line through (N, total);
- **latency**: an open loop at one fixed total rate (``--rate`` requests/s, single-row requests) over the N models
  with Zipf(1.1) popularity, from a child process; p50/p99 and errors, as a ratio to N = 1 at the same rate;
- **promotion**: a new version of the most popular model is rolled out (canary) and promoted; the time from the
  promote call until every request of a 20-request probe is answered by the new version (the candidate is loaded
  by the replicas' background poll when the rollout starts, so the flip itself loads nothing).

Beside it, one application per model for N = 1 and 3 (the shape before #20: router, two model slots, writer and
controller per model, placement ``remote``): its total PSS, the comparison for memory per model.
Every figure is printed with the 1-minute load average at the time.
Targets (#20): <= 40 MB per added model, <= 4 GiB at N = 100, p99 at the same total rate <= 1.5x N = 1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serve_overhead import _free_port, _wait

TOKEN = "bench-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ZIPF_S = 1.1
MB = 1024 * 1024
PER_MODEL_TARGET_MB = 40.0
TOTAL_TARGET_MB_AT_100 = 4096.0
P99_TARGET = 1.5


# ---------------------------------------------------------------------------------------------- the load (child)
async def _drive(base: str, names: list[str], bodies: list[str], rate: float, seconds: float, warmup: float) -> dict:
    weights = [1.0 / (rank + 1) ** ZIPF_S for rank in range(len(names))]
    rng = random.Random(0)
    latencies: list[float] = []
    errors = 0
    start = time.perf_counter() + 0.2
    total = int(rate * (warmup + seconds))
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(timeout=10.0, limits=limits) as client:

        async def one(n: int, at: float, name: str) -> None:
            nonlocal errors
            await asyncio.sleep(max(0.0, at - time.perf_counter()))
            try:
                r = await client.post(
                    f"{base}/models/{name}/predict",
                    content=bodies[n % len(bodies)],
                    headers={"Content-Type": "application/json", "X-User-Id": f"u{n % 5000}"},
                )
                ok = r.status_code == 200
            except httpx.HTTPError:
                ok = False
            if at - start >= warmup:  # latency from the scheduled send time: a late client counts against it
                latencies.append((time.perf_counter() - at) * 1000.0)
                errors += 0 if ok else 1

        picks = rng.choices(names, weights=weights, k=total)
        await asyncio.gather(*(one(n, start + n / rate, picks[n]) for n in range(total)))
    latencies.sort()

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else math.nan

    return {"requests": len(latencies), "errors": errors, "p50_ms": pct(0.5), "p99_ms": pct(0.99)}


def _load(base: str, names: list[str], bodies: list[str], rate: float, seconds: float, warmup: float) -> dict:
    """The open loop, from a child process (the client must not share this process's GIL with Ray's driver)."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump({"base": base, "names": names, "bodies": bodies}, fh)
    cmd = [sys.executable, __file__, "--child", fh.name, str(rate), str(seconds), str(warmup)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=seconds + warmup + 120)
    os.unlink(fh.name)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


# ---------------------------------------------------------------------------------------------- measurements
def _pss_mb() -> float:
    """PSS of every process of this Ray cluster (the driver's descendants), summed, in MB."""
    import psutil

    total = 0
    for proc in psutil.Process().children(recursive=True):
        try:
            info = proc.memory_full_info()
            total += getattr(info, "pss", info.rss)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return total / MB


def _load_avg() -> float:
    return os.getloadavg()[0]


def _all_ok(base: str, names: list[str]) -> bool:
    try:
        models = httpx.get(f"{base}/healthz", timeout=30).json()["models"]
    except (httpx.HTTPError, ValueError, KeyError):
        return False
    return all(models.get(n, {}).get("status") == "ok" for n in names)


# ---------------------------------------------------------------------------------------------- setup
def _config(workdir: Path) -> Any:
    from driftline.core.config_loader import load_config

    return load_config(
        None,
        workdir=workdir,
        overrides={
            "data.scenario": "stationary",
            "data.n_rows": 1500,
            "serve.admin_token": TOKEN,
            "serve.router.num_cpus": 0.1,
            "serve.model.num_cpus": 0.05,
            "serve.poll_seconds": 0.5,
        },
    )


def _fleet(cfg: Any, count: int) -> tuple[list[str], list[str]]:
    """``count`` registered models, each trained on its own seeded table; (names, request bodies)."""
    from driftline.core.config import DataConfig
    from driftline.datasets import load_stream
    from driftline.model.bundle import ModelBundle
    from driftline.model.preprocess import TabularPreprocessor
    from driftline.model.registry import CHAMPION, ModelRegistry
    from driftline.train_jobs.boosting import fit_booster_local
    from driftline.train_jobs.local_executor import fit_local
    from driftline.train_jobs.loop import LoopConfig

    names = []
    for i in range(count):
        stream, schema = load_stream(DataConfig(scenario="stationary", n_rows=1500, seed=100 + i))
        pre = TabularPreprocessor.fit(stream.iloc[:1000], schema)
        if i % 2 == 0:
            bundle = ModelBundle.create(pre, (16,), seed=i)
            bundle = fit_local(bundle, stream.iloc[:1000], LoopConfig(bundle.to_bytes(), epochs=1, seed=i)).bundle
        else:
            raw = ModelBundle.create_family("xgboost", pre, params={"num_boost_round": 20, "max_depth": 3})
            bundle = fit_booster_local(raw, stream.iloc[:1000], seed=i).bundle
        name = f"m{i:03d}"
        registry = ModelRegistry(cfg.with_overrides(**{"mlflow.model_name": name}))
        profile = json.dumps({"note": "benchmark model: no reference profile"})
        version = registry.register(
            bundle, profile_json=profile, example=stream.iloc[:20], metrics={}, params={}, tags={}, run_name=name
        )
        registry.set_alias(CHAMPION, version.version)
        names.append(name)
        if (i + 1) % 10 == 0:
            print(f"  registered {i + 1}/{count} models", flush=True)
    stream, schema = load_stream(DataConfig(scenario="stationary", n_rows=1500, seed=7))
    rows = stream.iloc[1000:1064][list(schema.feature_names)].to_dict("records")
    return names, [json.dumps({"instances": [row]}) for row in rows]


def _promotion_seconds(cfg: Any, base: str, name: str, bodies: list[str]) -> float:
    """Roll a new version of ``name`` out and promote it: seconds from the promote call until 20 requests in a row
    are answered by it."""
    from driftline.model.registry import CHAMPION, ModelRegistry

    registry = ModelRegistry(cfg.with_overrides(**{"mlflow.model_name": name}))
    bundle, _ = registry.load_bundle(f"models:/{name}@{CHAMPION}")
    profile = json.dumps({"note": "benchmark model: no reference profile"})
    import pandas as pd

    example = pd.DataFrame([json.loads(b)["instances"][0] for b in bodies[:20]])
    version = registry.register(
        bundle, profile_json=profile, example=example, metrics={}, params={}, tags={}, run_name=f"{name}-next"
    ).version
    spec = {"mode": "canary", "candidate_version": version, "canary": {"min_requests_per_step": 10**9}}
    httpx.post(f"{base}/models/{name}/rollout", json=spec, headers=AUTH, timeout=60).raise_for_status()

    def loaded() -> bool:
        health = httpx.get(f"{base}/healthz", timeout=30).json()["models"][name]
        return bool(health.get("candidate_loaded") == version)

    _wait(loaded, f"candidate {version} of {name} loaded", timeout=300)
    started = time.perf_counter()
    httpx.post(f"{base}/models/{name}/rollout/promote", headers=AUTH, timeout=60).raise_for_status()
    with httpx.Client(timeout=30) as client:
        streak = 0
        while streak < 20:
            r = client.post(
                f"{base}/models/{name}/predict",
                content=bodies[streak % len(bodies)],
                headers={"Content-Type": "application/json"},
            )
            streak = streak + 1 if r.headers.get("X-Model-Version") == version else 0
            if time.perf_counter() - started > 120:
                raise RuntimeError("the promoted version was not served within 120 s")
    return time.perf_counter() - started


# ---------------------------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1,10,30,100", help="fleet sizes N, comma-separated")
    parser.add_argument("--rate", type=float, default=40.0, help="total open-loop rate, requests/s")
    parser.add_argument("--seconds", type=float, default=15.0, help="measured seconds per size")
    parser.add_argument("--warmup", type=float, default=3.0, help="unmeasured seconds before")
    parser.add_argument("--per-app", default="1,3", help="sizes of the one-app-per-model comparison ('' skips it)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    per_app = [int(s) for s in args.per_app.split(",") if s]

    import ray
    from ray import serve

    from driftline.serve_apps.app import build_app

    workdir = Path(tempfile.mkdtemp(prefix="driftline-fleet-"))
    cfg = _config(workdir)
    results: dict[str, Any] = {"settings": vars(args) | {"out": str(args.out)}, "fleet": [], "per_app": []}
    try:
        ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
        port = _free_port()
        serve.start(http_options={"host": "127.0.0.1", "port": port})
        print(f"setup: training and registering {max(sizes + per_app)} models in {workdir} ...", flush=True)
        names, bodies = _fleet(cfg, max(sizes + per_app))
        base = f"http://127.0.0.1:{port}/fleet"
        idle = _pss_mb()
        print(f"Ray with Serve's controller and proxy, no application: {idle:.0f} MB PSS (load {_load_avg():.2f})")
        results["idle_mb"] = idle
        for n in sizes:
            served = names[:n]
            fleet_cfg = cfg.with_overrides(**{"serve.models": [{"name": m} for m in served]})
            started = time.perf_counter()
            serve.run(build_app(fleet_cfg), name="fleet", route_prefix="/fleet")
            _wait(lambda served=served: _all_ok(base, served), f"{n} models answering", timeout=600)
            ready_s = time.perf_counter() - started
            for m in served:  # every model answered once: its batcher and first-call costs are paid
                httpx.post(
                    f"{base}/models/{m}/predict", content=bodies[0], headers={"Content-Type": "application/json"}
                )
            memory = _pss_mb()
            load = _load(base, served, bodies, args.rate, args.seconds, args.warmup)
            promote = _promotion_seconds(fleet_cfg, base, served[0], bodies)
            row = {"n": n, "pss_mb": memory, "ready_s": ready_s, **load, "promote_s": promote, "load_1m": _load_avg()}
            results["fleet"].append(row)
            print(
                f"N={n:>3}: {memory:7.0f} MB PSS, up in {ready_s:5.1f} s, {args.rate:g} req/s Zipf: p50 "
                f"{load['p50_ms']:6.1f} ms p99 {load['p99_ms']:6.1f} ms errors {load['errors']}, promoted version "
                f"served in {promote:4.2f} s (load {row['load_1m']:.2f})",
                flush=True,
            )
            serve.delete("fleet")
        for n in per_app:
            apps = []
            for m in names[:n]:
                single = cfg.with_overrides(
                    **{"mlflow.model_name": m, "serve.placement": "remote", "serve.app_name": f"one-{m}"}
                )
                serve.run(build_app(single), name=f"one-{m}", route_prefix=f"/one-{m}")
                apps.append(f"one-{m}")
            memory = _pss_mb()
            results["per_app"].append({"n": n, "pss_mb": memory, "load_1m": _load_avg()})
            print(f"one app per model, N={n}: {memory:7.0f} MB PSS (load {_load_avg():.2f})", flush=True)
            for app in apps:
                serve.delete(app)
    finally:
        if ray.is_initialized():
            serve.shutdown()
            ray.shutdown()
        shutil.rmtree(workdir, ignore_errors=True)
    _report(results)
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))
        print(f"wrote {args.out}")
    return results


def _report(results: dict[str, Any]) -> None:
    fleet = results["fleet"]
    if not fleet:
        return
    print("\n| N models | Ray PSS, MB | p50 ms | p99 ms | p99 / N=1 | errors | promoted served in, s | load 1m |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    first = fleet[0]["p99_ms"]
    for row in fleet:
        print(
            f"| {row['n']} | {row['pss_mb']:.0f} | {row['p50_ms']:.1f} | {row['p99_ms']:.1f} "
            f"| {row['p99_ms'] / first:.2f} | {row['errors']} | {row['promote_s']:.2f} | {row['load_1m']:.2f} |"
        )
    if len(fleet) > 1:
        xs, ys = [r["n"] for r in fleet], [r["pss_mb"] for r in fleet]
        mx, my = statistics.fmean(xs), statistics.fmean(ys)
        slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)
        met = "met" if slope <= PER_MODEL_TARGET_MB else "NOT met"
        print(
            f"memory per added model (least squares over N): {slope:.1f} MB (target <= {PER_MODEL_TARGET_MB:g}: {met})"
        )
        results["slope_mb_per_model"] = slope
        at_100 = [r for r in fleet if r["n"] == 100]
        if at_100:
            met = "met" if at_100[0]["pss_mb"] <= TOTAL_TARGET_MB_AT_100 else "NOT met"
            print(f"total at N=100: {at_100[0]['pss_mb']:.0f} MB (target <= {TOTAL_TARGET_MB_AT_100:g}: {met})")
        worst = max(r["p99_ms"] for r in fleet) / first
        print(
            f"worst p99 / N=1 at {results['settings']['rate']:g} req/s: {worst:.2f}x (target <= {P99_TARGET}: "
            f"{'met' if worst <= P99_TARGET else 'NOT met'})"
        )
    for row in results["per_app"]:
        print(f"one application per model (remote slots), N={row['n']}: {row['pss_mb']:.0f} MB")
    if len(results["per_app"]) > 1:
        a, b = results["per_app"][0], results["per_app"][-1]
        print(f"  one app per model costs {(b['pss_mb'] - a['pss_mb']) / (b['n'] - a['n']):.0f} MB per added model")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        spec = json.loads(Path(sys.argv[2]).read_text())
        rate, seconds, warmup = (float(x) for x in sys.argv[3:6])
        print(json.dumps(asyncio.run(_drive(spec["base"], spec["names"], spec["bodies"], rate, seconds, warmup))))
    else:
        main()
