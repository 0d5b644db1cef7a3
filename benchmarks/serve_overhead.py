"""Serving overhead benchmark (issues #5, #13): driftline's router vs a bare Ray Serve app, in one run, one machine.

    python benchmarks/serve_overhead.py                                  # 15 s per variant after 3 s warm-up, c=8
    python benchmarks/serve_overhead.py --duration 10 --rounds 2 --out /tmp/serve_overhead.json

Setup (untimed): a local Ray (``num_cpus=2``), a small champion trained on Ray Train and registered in MLflow in a
temporary work folder, a candidate registered beside it (the champion fine-tuned for one epoch), and two Serve
applications behind one HTTP proxy on a free port:

(a) ``/bare``: one FastAPI deployment that loads the same registered bundle and predicts in-process; it validates
    the body with the same ``parse_payload`` as the router, so the comparison isolates driftline's routing, the
    hop to the model slot (remote), the prediction log and the metrics.
(b) ``/dl``: driftline's ``build_app`` (``--placement``, default inline: the router holds the models; remote:
    router -> slot_a/slot_b), log_writer, controller, champion only.
(r) ``/dlr``: the same app with placement remote (its own state and logs), champion only.
(c) the same app during a canary held at 20% (steps [0.2, 1.0], step minimums too large to be reached).
(d) the same app during a 100% shadow (min_requests too large to be reached); latency is the user-facing one.

Every deployment has one replica and a fractional CPU reservation (0.1), so all of it fits on 2 cores. Load is
closed-loop, single-row requests, from a separate process (``wrk`` when installed, else an asyncio httpx client;
see ``_loadgen.py``). ``--rounds N`` (default 3) repeats a, b, c, d N times, each round in another order (the
machine may be shared: interleaving spreads the noise over all variants); ratios are given per round and for the
per-variant medians.
Targets (#13, #20): throughput (b)/(a) >= 1.0 inline; shadow p99 / champion-only p99 <= 1.1; canary 20% p99 /
champion-only p99 <= 1.05. The bare app gets the router's replica count, CPU reservation and max_ongoing_requests.

Beside wall-clock figures, each measurement records the CPU seconds every process of this run's Ray cluster used
in the window (proxy, each replica, Ray's daemons), per request: it shows where the time goes, and it moves far
less than throughput when neighbours load the machine. ``--open-load F`` adds an open-loop measurement of (b) and
(d) at F times the closed-loop throughput (b) reached in the same round (F < 1: below saturation, so shadow's
cost shows as latency rather than as lost throughput; relative, so it follows the machine's current speed).
``--max-rate`` adds, per variant and round, the largest request rate the variant holds with p99 under 100 ms
(#13; ``--p99-limit-ms``): open-loop (httpx, fixed arrival rate) steps of ``--rate-seconds`` after
``--rate-warmup``, the first at 0.6 x the variant's closed-loop throughput in that round, then up or down by 1.3x
until a rate passes and a higher one fails, then three geometric bisections (about 3% resolution). A step passes
with p99 under the limit, no errors and answers received at >= 95% of the offered rate. Each step prints the
client's send lag and CPU share: a lagging or saturated client would make the limit partly the client's.
``--patched-code DIR`` adds (p): the driftline app again, its replicas importing a modified copy of the package
from DIR, so a hot-path change is measured against the current code in the same run.
Checks printed with the results: the canary's observed candidate share and the shadow calls per served request.

    python benchmarks/serve_overhead.py --rounds 2 --open-load 0.5 --out results.json
    python benchmarks/serve_overhead.py --rounds 3 --max-rate --out results.json        # about 5 min per round
    cd /tmp && python /path/to/benchmarks/serve_overhead.py --variants abd --patched-code /tmp/copy --rounds 2
"""

# No `from __future__ import annotations`: FastAPI must see the real `Request` type of the bare app's handler.

import argparse
import json
import math
import os
import re
import shutil
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _loadgen import LoadResult, available, run_load

TOKEN = "bench-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
VARIANTS = {
    "a": "bare Serve app",
    "b": "driftline champion-only",
    "r": "driftline champion-only, remote",
    "c": "driftline canary 20%",
    "d": "driftline shadow 100%",
    "p": "driftline champion-only, patched",
}
THROUGHPUT_TARGET = 1.0  # (b)/(a): driftline champion-only at least as fast as the bare app (issue #13)
SHADOW_P99_TARGET = 1.1  # (d)/(b): a 100% shadow raises the user's p99 by at most 10%
CANARY_P99_TARGET = 1.05  # (c)/(b): a 20% canary raises the user's p99 by at most 5%
CHECKS = ("candidate_share", "shadow_per_request")
RATE_START = 0.6  # --max-rate: the first offered rate, as a fraction of the variant's closed-loop throughput
RATE_FACTOR = 1.3  # the ladder's step up after a pass, down after a failure, until the limit is bracketed
RATE_LADDER_STEPS = 6  # at most this many ladder steps (0.6x .. 2.2x, or down to 0.16x, the closed-loop figure)
RATE_BISECTIONS = 3  # then geometric bisections of [highest pass, lowest failure]: 1.3 ** (1 / 8), about 3%
RATE_FLOOR = 5.0  # requests/s: the sweep gives up below this
ACHIEVED_MIN = 0.95  # a step fails when answers arrive at less than this fraction of the offered rate
RATE_CONNECTIONS = 64  # the open-loop client's pool: by Little's law 64 in flight at a 100 ms mean is 640 req/s

bare_api = FastAPI(title="bare")


def _bare_deployment() -> Any:
    """(a): the same model, parsed and predicted in the ingress replica itself (no router, no logs)."""
    from ray import serve

    @serve.ingress(bare_api)
    class Bare:
        def __init__(self, config: dict[str, Any]) -> None:
            import torch

            from driftline.core.config import DriftlineConfig
            from driftline.model.registry import CHAMPION, ModelRegistry

            torch.set_num_threads(1)  # same setting as driftline's model replicas
            cfg = DriftlineConfig.model_validate(config)
            self.bundle, self.version = ModelRegistry(cfg).load_bundle(f"models:/{cfg.mlflow.model_name}@{CHAMPION}")
            self.network = self.bundle.build_network().eval()
            self.schema = self.bundle.preprocessor.schema
            self.max_rows = cfg.serve.max_batch_rows

        @bare_api.post("/predict")
        async def predict(self, request: Request) -> JSONResponse:
            import numpy as np

            from driftline.serve_apps.payload import PayloadError, parse_payload

            try:
                frame = parse_payload(await request.json(), self.schema, self.max_rows)
            except PayloadError as err:
                return JSONResponse(err.to_json(), status_code=err.status)
            proba = self.bundle.predict_proba(frame, self.network)
            predictions = np.asarray(self.bundle.classes)[proba.argmax(axis=1)].tolist()
            body = {"predictions": predictions, "probabilities": proba.round(6).tolist(), "model_version": self.version}
            return JSONResponse(body)

    return Bare


def _bare_app(cfg: Any) -> Any:
    """(a) with the same replica count, CPU reservation and ``max_ongoing_requests`` as driftline's router."""
    from ray import serve

    router = cfg.serve.router
    return serve.deployment(
        _bare_deployment(),
        name="bare",
        num_replicas=router.num_replicas,
        max_ongoing_requests=router.max_ongoing_requests,
        ray_actor_options={"num_cpus": router.num_cpus},
    ).bind(cfg.model_dump(mode="json"))


def _patched_app(cfg: Any, pythonpath: str) -> Any:
    """(p): ``build_app``'s graph, every replica importing driftline from ``pythonpath`` (a patched copy).

    Lets a hot-path change be measured against the current code in the same run. Mirrors ``build_app``
    (only ``runtime_env`` is added); keep the two in step.
    """
    from ray import serve

    from driftline.serve_apps.controller import Controller
    from driftline.serve_apps.log_writer_replica import MAX_ONGOING_CALLS, LogWriterReplica
    from driftline.serve_apps.model_deployment import ModelReplica
    from driftline.serve_apps.router import Router

    env = {"env_vars": {"PYTHONPATH": pythonpath}}
    config, model = cfg.model_dump(mode="json"), cfg.serve.model

    def deployment(cls: Any, name: str, cpus: float, **options: Any) -> Any:
        actor = {"num_cpus": cpus, "runtime_env": env}
        return serve.deployment(cls, name=name, ray_actor_options=actor, **options)

    slots = [
        deployment(
            ModelReplica,
            f"slot_{n}",
            model.num_cpus,
            num_replicas=model.num_replicas,
            max_ongoing_requests=model.max_ongoing_requests,
        ).bind(config, n, cfg.serve.poll_seconds)
        if cfg.serve.placement.value == "remote"
        else None
        for n in ("a", "b")
    ]
    writer = deployment(LogWriterReplica, "log_writer", 0, num_replicas=1, max_ongoing_requests=MAX_ONGOING_CALLS).bind(
        str(cfg.workdir_path / "logs"), cfg.serve.log_flush_rows, cfg.serve.log_flush_seconds
    )
    controller = deployment(Controller, "controller", 0, num_replicas=1).bind(config)
    router = deployment(
        Router,
        "router",
        cfg.serve.router.num_cpus,
        num_replicas=cfg.serve.router.num_replicas,
        max_ongoing_requests=cfg.serve.router.max_ongoing_requests,
    )
    return router.bind(*slots, writer, controller, config)


# ---------------------------------------------------------------------------------------------- setup
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _config(workdir: Path) -> Any:
    from driftline.core.config_loader import load_config

    return load_config(
        None,
        workdir=workdir,
        overrides={
            "data.scenario": "concept_drift",
            "data.n_rows": 6000,
            "train.train_rows": 2000,
            "train.epochs": 2,
            "train.cpus_per_worker": 0.5,
            "serve.admin_token": TOKEN,
            "serve.router.num_cpus": 0.1,
            "serve.model.num_cpus": 0.1,
            "serve.router.num_replicas": 1,
            "serve.model.num_replicas": 1,
        },
    )


def _register_candidate(cfg: Any, tune: bool = True) -> str:
    """The champion fine-tuned for one epoch on newer rows (``tune``), else its own weights again (an A/A
    candidate): a real second MLflow version."""
    from driftline.datasets import load_stream
    from driftline.model.registry import CHAMPION, ModelRegistry
    from driftline.train_jobs.local_executor import fit_local
    from driftline.train_jobs.loop import LoopConfig

    registry = ModelRegistry(cfg)
    uri = f"models:/{cfg.mlflow.model_name}@{CHAMPION}"
    bundle, _ = registry.load_bundle(uri)
    stream, _ = load_stream(cfg.data)
    newer = stream.iloc[2000:3000]
    tuned = fit_local(bundle, newer, LoopConfig(bundle.to_bytes(), epochs=1, seed=3)).bundle if tune else bundle
    version = registry.register(
        tuned,
        profile_json=registry.load_profile_json(uri),
        example=newer,
        metrics={},
        params={},
        tags={"driftline.trigger": "benchmark"},
        run_name="bench-candidate",
    )
    return str(version.version)


def _bodies(cfg: Any, n: int = 64) -> list[str]:
    from driftline.datasets import load_stream

    stream, schema = load_stream(cfg.data)
    rows = stream.iloc[4000 : 4000 + n][list(schema.feature_names)].to_dict("records")
    return [json.dumps({"instances": [row]}) for row in rows]


# ---------------------------------------------------------------------------------------------- rollout control
def _wait(check: Any, what: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")


def _start_rollout(dl: str, spec: dict[str, Any]) -> None:
    response = httpx.post(f"{dl}/rollout", json=spec, headers=AUTH, timeout=30)
    if response.status_code != 200:
        raise RuntimeError(f"POST /rollout -> {response.status_code}: {response.text}")
    mode, version = spec["mode"], spec["candidate_version"]

    def ready() -> bool:
        health = httpx.get(f"{dl}/healthz", timeout=30).json()
        return bool(health.get("mode") == mode and health.get("candidate_loaded") == version)

    _wait(ready, f"{mode} with candidate {version} loaded")
    time.sleep(1.0)  # every router replica re-reads serving state within poll_seconds (0.5 s)


def _rollout_counts(dl: str) -> dict[str, Any]:
    """The active rollout's whole-phase counters so far (for the shadow/canary share actually seen)."""
    time.sleep(2.0)  # routers push their windows every poll_seconds, the controller folds them in every second
    status = httpx.get(f"{dl}/rollout", timeout=30).json()["rollout"] or {}
    return {arm: (status.get(f"{arm}_total") or {}).get("requests", 0) for arm in ("champion", "candidate")}


def _stop_rollout(dl: str) -> None:
    httpx.post(f"{dl}/rollout/abort", headers=AUTH, timeout=30).raise_for_status()
    _wait(lambda: httpx.get(f"{dl}/healthz", timeout=30).json().get("mode") == "none", "mode none")
    time.sleep(1.0)


def _check_same_model(bare: str, dl: str, bodies: list[str]) -> None:
    """Both apps must answer with the same model before their speed is compared."""
    with httpx.Client(timeout=30) as client:
        for body in bodies[:8]:
            headers = {"Content-Type": "application/json"}
            a = client.post(f"{bare}/predict", content=body, headers=headers)
            b = client.post(f"{dl}/predict", content=body, headers=headers)
            if a.status_code != 200 or b.status_code != 200:
                raise RuntimeError(f"probe failed: bare {a.status_code} {a.text[:200]}, driftline {b.status_code}")
            ja, jb = a.json(), b.json()
            if ja["model_version"] != jb["model_version"] or ja["predictions"] != jb["predictions"]:
                raise RuntimeError(f"the two apps disagree: {ja} vs {jb}")


# ---------------------------------------------------------------------------------------------- CPU accounting
_TITLE = re.compile(r"^ray::(?:ServeReplica:)?([A-Za-z_][\w:-]*)")


def _component(title: str) -> str:
    """Group a process by its Ray title: 'ray::ServeReplica:driftline:router.handle_request' -> 'driftline:router'."""
    match = _TITLE.match(title)
    if match is None:
        return "ray daemons"  # raylet, gcs_server, agents
    name = match.group(1)
    return name if ":" in name or name in ("ProxyActor", "ServeController") else "other ray workers"


class CpuMeter:
    """CPU seconds (user + system) used by each Ray process of this run between ``start()`` and ``stop()``.

    On a machine shared with other work, wall-clock throughput moves with the neighbours' load; CPU per request
    of each component does much less, and on 2 saturated cores it bounds throughput (2 / total CPU per request).
    """

    def __init__(self) -> None:
        self._start: dict[int, tuple[str, float]] = {}
        self.used: dict[str, float] = {}

    @staticmethod
    def _snapshot() -> dict[int, tuple[str, float]]:
        import psutil

        out = {}
        for proc in psutil.Process().children(recursive=True):
            try:
                title = " ".join(proc.cmdline()) or proc.name()
                if title.startswith(("wrk", sys.executable)):
                    continue  # the load generator is accounted separately
                times = proc.cpu_times()
                out[proc.pid] = (_component(title), times.user + times.system)
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
        return out

    def window(self, opened: bool) -> None:
        if opened:
            self._start = self._snapshot()
            return
        used: dict[str, float] = {}
        for pid, (_, cpu) in self._snapshot().items():
            start = self._start.get(pid)
            if start is not None:
                used[start[0]] = used.get(start[0], 0.0) + cpu - start[1]
        self.used = used


# ---------------------------------------------------------------------------------------------- measurement
def _measure(
    variant: str, url: str, args: argparse.Namespace, bodies: list[str], kind: str, rate: float = 0.0
) -> dict[str, Any]:
    load_before = os.getloadavg()[0]
    meter = CpuMeter()
    # The open loop gets more connections: a request waiting for a free one would be queued in the client.
    connections = args.concurrency * 4 if rate > 0 else args.concurrency
    result: LoadResult = run_load(
        kind, f"{url}/predict", bodies, connections, args.duration, args.warmup, meter.window, rate
    )
    loop = "open" if rate > 0 else "closed"
    row = {"variant": variant, "loop": loop, "rate": rate, **result.to_dict(), "loadavg_1m_before": load_before}
    row["loadavg_1m_after"] = os.getloadavg()[0]
    n = max(result.requests, 1)
    row["cpu_ms_per_request"] = {k: round(v * 1000.0 / n, 3) for k, v in sorted(meter.used.items()) if v > 0}
    row["cpu_ms_per_request"]["load generator"] = round(result.loadgen_cpu_s * 1000.0 / n, 3)
    row["server_cpu_ms_per_request"] = round(sum(meter.used.values()) * 1000.0 / n, 3)
    print(
        f"  ({variant}) {VARIANTS[variant]:<26} {loop:>13} {result.rps:8.1f} req/s  p50 {result.p50_ms:6.2f} ms  "
        f"p99 {result.p99_ms:6.2f} ms  errors {result.errors}  server CPU {row['server_cpu_ms_per_request']:.2f} "
        f"ms/req  (load avg {load_before:.1f})",
        flush=True,
    )
    return row


def _rate_step(variant: str, url: str, args: argparse.Namespace, bodies: list[str], rate: float) -> dict[str, Any]:
    """One open-loop window at ``rate`` requests/s: passes with p99 under the limit, no errors, answers keeping up."""
    load = os.getloadavg()[0]
    res = run_load("httpx", f"{url}/predict", bodies, RATE_CONNECTIONS, args.rate_seconds, args.rate_warmup, rate=rate)
    achieved, lag, share = res.achieved_rps or 0.0, res.send_lag_p99_ms or 0.0, res.loadgen_core_share or 0.0
    passed = res.requests > 0 and res.errors == 0 and res.p99_ms < args.p99_limit_ms and achieved >= ACHIEVED_MIN * rate
    print(
        f"    ({variant}) {rate:7.1f} req/s offered: {achieved:7.1f} answered/s  p99 {res.p99_ms:7.2f} ms  errors "
        f"{res.errors}  client: send lag p99 {lag:5.1f} ms, {share:4.0%} of a core  (load avg {load:.1f})  "
        f"{'pass' if passed else 'FAIL'}",
        flush=True,
    )
    return {
        "rate": rate,
        "passed": passed,
        "achieved_rps": round(achieved, 1),
        "p50_ms": round(res.p50_ms, 2),
        "p99_ms": round(res.p99_ms, 2),
        "errors": res.errors,
        "send_lag_p99_ms": round(lag, 2),
        "loadgen_core_share": round(share, 3),
        "loadavg_1m": load,
    }


def _max_rate(variant: str, url: str, args: argparse.Namespace, bodies: list[str], closed_rps: float) -> dict:
    """The largest open-loop rate ``variant`` holds (see the module docstring): a ladder from RATE_START x its
    closed-loop throughput until a pass and a failure bracket the limit, then geometric bisection."""
    started, load_before = time.perf_counter(), os.getloadavg()[0]
    steps: list[dict[str, Any]] = []
    best: dict[str, Any] | None = None  # the highest passing step
    fail: dict[str, Any] | None = None  # the lowest failing step
    rate = max(RATE_START * closed_rps, RATE_FLOOR)
    for _ in range(RATE_LADDER_STEPS):
        steps.append(step := _rate_step(variant, url, args, bodies, round(rate, 1)))
        if step["passed"]:
            best = step
        else:
            fail = step
        if best and fail:
            break
        rate = rate * RATE_FACTOR if step["passed"] else rate / RATE_FACTOR
        if rate < RATE_FLOOR:
            break
    for _ in range(RATE_BISECTIONS):
        if best is None or fail is None:
            break
        steps.append(step := _rate_step(variant, url, args, bodies, round(math.sqrt(best["rate"] * fail["rate"]), 1)))
        best, fail = (step, fail) if step["passed"] else (best, step)
    row = {
        "variant": variant,
        "loop": "max_rate",
        "closed_rps": closed_rps,
        "max_rate_rps": best["rate"] if best else 0.0,
        "bracketed": fail is not None,  # False: every rate tried passed, the figure is a lower bound
        "first_failure_rps": fail["rate"] if fail else None,
        **{k: best[k] if best else None for k in ("p99_ms", "achieved_rps", "loadgen_core_share", "send_lag_p99_ms")},
        "failure_client": {k: fail[k] for k in ("loadgen_core_share", "send_lag_p99_ms")} if fail else None,
        "steps": steps,
        "seconds": round(time.perf_counter() - started, 1),
        "loadavg_1m_before": load_before,
        "loadavg_1m_after": os.getloadavg()[0],
    }
    held = f"{row['max_rate_rps']:.1f}" if row["bracketed"] else f">= {row['max_rate_rps']:.1f}"
    print(
        f"  ({variant}) {VARIANTS[variant]:<26} max rate with p99 < {args.p99_limit_ms:g} ms: {held} req/s "
        f"(p99 {row['p99_ms']} ms; first failure {row['first_failure_rps']} req/s; {len(steps)} steps in "
        f"{row['seconds']:.0f} s; load avg {load_before:.1f})",
        flush=True,
    )
    return row


def _sweep(variant: str, url: str, args: argparse.Namespace, bodies: list[str], closed: dict) -> list[dict]:
    """``[_max_rate(...)]`` after the closed-loop row ``closed`` with --max-rate, else ``[]``."""
    return [_max_rate(variant, url, args, bodies, closed["rps"])] if args.max_rate else []


def _order(variants: list[str], round_index: int) -> list[str]:
    """The variants of one round, in an order that changes every round (rotated, every other round reversed), so
    that no variant always runs first, last or after the same neighbour (with --open-load the order stays fixed:
    (d)'s open-loop rate comes from (b) in the same round).

    >>> [_order(list("abcd"), r) for r in range(3)]
    [['a', 'b', 'c', 'd'], ['a', 'd', 'c', 'b'], ['c', 'd', 'a', 'b']]
    """
    shift = round_index % len(variants)
    order = variants[shift:] + variants[:shift]
    return order[::-1] if round_index % 2 else order


def _round(
    bare: str, dl: str, candidate: str, args: argparse.Namespace, bodies: list[str], kind: str, index: int
) -> list[dict]:
    rows = []
    open_rate = 0.0  # set from (b)'s closed-loop throughput in this round
    order = args.variants if args.open_load > 0 else _order(args.variants, index)
    for variant in order:
        if variant in ("a", "p", "r"):
            url = {"a": bare, "p": dl.replace("/dl", "/dlp"), "r": dl.replace("/dl", "/dlr")}[variant]
            rows.append(row := _measure(variant, url, args, bodies, kind))
            rows += _sweep(variant, url, args, bodies, row)
        elif variant == "b":
            rows.append(row := _measure("b", dl, args, bodies, kind))
            if args.open_load > 0:
                open_rate = round(args.open_load * row["rps"], 1)
                rows.append(_measure("b", dl, args, bodies, "httpx", open_rate))
            rows += _sweep("b", dl, args, bodies, row)
        elif variant == "c":
            huge = {"min_requests_per_step": 10_000_000, "min_seconds_per_step": 1e7}
            _start_rollout(
                dl, {"mode": "canary", "candidate_version": candidate, "canary": {"steps": [0.2, 1.0], **huge}}
            )
            row = _measure("c", dl, args, bodies, kind)
            counts = _rollout_counts(dl)  # before the sweep: the check describes the closed-loop measurement
            swept = _sweep("c", dl, args, bodies, row)
            _stop_rollout(dl)
            served = counts["champion"] + counts["candidate"]
            row["candidate_share"] = counts["candidate"] / served if served else None
            rows += [row, *swept]
        elif variant == "d":
            spec = {
                "mode": "shadow",
                "candidate_version": candidate,
                "shadow": {"fraction": 1.0, "min_requests": 10**9},
            }
            _start_rollout(dl, spec)
            row = _measure("d", dl, args, bodies, kind)
            if open_rate > 0:
                rows.append(_measure("d", dl, args, bodies, "httpx", open_rate))
            counts = _rollout_counts(dl)
            swept = _sweep("d", dl, args, bodies, row)
            _stop_rollout(dl)
            # Shadow calls per served request: below 1.0 means calls were skipped at shadow_max_in_flight.
            row["shadow_per_request"] = counts["candidate"] / counts["champion"] if counts["champion"] else None
            rows += [row, *swept]
    return rows


def _median(rows: list[dict[str, Any]], variant: str, loop: str = "closed") -> dict[str, Any] | None:
    mine = [r for r in rows if r["variant"] == variant and r["loop"] == loop]
    if not mine:
        return None
    keys = ("rps", "p50_ms", "p99_ms", "mean_ms", "errors", "server_cpu_ms_per_request", "loadavg_1m_before")
    parts = sorted({k for r in mine for k in r["cpu_ms_per_request"]})
    cpu = {k: statistics.median(r["cpu_ms_per_request"].get(k, 0.0) for r in mine) for k in parts}
    med = {k: statistics.median(r[k] for r in mine) for k in keys}
    return {"variant": variant, "loop": loop, **med, "cpu_ms_per_request": cpu, "runs": len(mine)}


def _ratios(by: dict[str, dict[str, Any]]) -> dict[str, float | None]:
    a, b, c, d, p = by.get("a"), by.get("b"), by.get("c"), by.get("d"), by.get("p")
    patched = {"throughput_p_over_a": p["rps"] / a["rps"] if a and p else None} if p else {}
    if (r := by.get("r")) is not None:
        patched["throughput_r_over_a"] = r["rps"] / a["rps"] if a else None
    if p and b:
        patched["server_cpu_p_over_b"] = p["server_cpu_ms_per_request"] / b["server_cpu_ms_per_request"]
    return {
        **patched,
        "throughput_b_over_a": b["rps"] / a["rps"] if a and b else None,
        "p99_shadow_over_b": d["p99_ms"] / b["p99_ms"] if b and d else None,
        "p99_canary_over_b": c["p99_ms"] / b["p99_ms"] if b and c else None,
        # What (b)/(a) throughput would be with the 2 cores saturated by these processes alone.
        "cpu_bound_throughput_b_over_a": (
            a["server_cpu_ms_per_request"] / b["server_cpu_ms_per_request"]
            if a and b and b["server_cpu_ms_per_request"]
            else None
        ),
    }


def _table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| variant | requests/s | p50 ms | p99 ms | errors | server CPU ms/request | requests per server core-s "
        "| load 1m |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        name = f"({r['variant']}) {VARIANTS[r['variant']]}"
        lines.append(
            f"| {name} | {r['rps']:.1f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['errors']:.0f} "
            f"| {r['server_cpu_ms_per_request']:.2f} | {1000.0 / max(r['server_cpu_ms_per_request'], 1e-9):.0f} "
            f"| {r['loadavg_1m_before']:.2f} |"
        )
    return "\n".join(lines)


def _cpu_table(rows: list[dict[str, Any]]) -> str:
    """CPU milliseconds per request by component (rows) and variant (columns)."""
    parts = sorted({k for r in rows for k in r["cpu_ms_per_request"]}, key=lambda k: (k == "load generator", k))
    lines = ["| CPU ms/request | " + " | ".join(f"({r['variant']})" for r in rows) + " |"]
    lines.append("|---|" + "---:|" * len(rows))
    for part in parts:
        cells = " | ".join(f"{r['cpu_ms_per_request'].get(part, 0.0):.3f}" for r in rows)
        lines.append(f"| {part} | {cells} |")
    return "\n".join(lines)


def _max_rate_medians(rows: list[dict[str, Any]], variants: list[str]) -> list[dict[str, Any]]:
    """Per variant: medians over rounds of the max rate, the p99 at it, the client's CPU share; ratio to (a)'s."""
    out: list[dict[str, Any]] = []
    for v in variants:
        mine = [r for r in rows if r["variant"] == v and r["loop"] == "max_rate"]
        if not mine:
            continue
        held = [r for r in mine if r["max_rate_rps"] > 0]

        def med(key: str, of: list[dict[str, Any]]) -> float | None:
            return statistics.median(r[key] for r in of) if of else None

        out.append(
            {
                "variant": v,
                "max_rate_rps": med("max_rate_rps", mine),
                "p99_ms": med("p99_ms", held),
                "loadgen_core_share": med("loadgen_core_share", held),
                "loadavg_1m": med("loadavg_1m_before", mine),
                "bracketed": all(r["bracketed"] for r in mine),
                "runs": len(mine),
            }
        )
    a = next((m["max_rate_rps"] for m in out if m["variant"] == "a"), None)
    for m in out:
        m["ratio_to_a"] = m["max_rate_rps"] / a if a else None
    return out


def _max_rate_table(medians: list[dict[str, Any]], limit_ms: float) -> str:
    lines = [
        f"| variant | max rate with p99 < {limit_ms:g} ms (req/s) | p99 at that rate (ms) | ratio to (a) "
        "| client CPU (share of a core) | load avg 1 min |",
        "|---|---:|---:|---:|---:|---:|",
    ]

    def fmt(x: float | None, spec: str) -> str:
        return "n/a" if x is None else format(x, spec)

    for m in medians:
        rate = fmt(m["max_rate_rps"], ".1f") if m["bracketed"] else f">= {m['max_rate_rps']:.1f}"
        lines.append(
            f"| ({m['variant']}) {VARIANTS[m['variant']]} | {rate} | {fmt(m['p99_ms'], '.2f')} "
            f"| {fmt(m['ratio_to_a'], '.2f')} | {fmt(m['loadgen_core_share'], '.0%')} | {m['loadavg_1m']:.2f} |"
        )
    return "\n".join(lines)


def _client_notes(rows: list[dict[str, Any]], limit_ms: float) -> list[str]:
    """Sweeps whose first failure may be the client's: it lagged, or used most of a core."""
    notes = []
    for r in rows:
        fail = r.get("failure_client") if r["loop"] == "max_rate" else None
        if fail and (fail["loadgen_core_share"] >= 0.8 or fail["send_lag_p99_ms"] >= limit_ms / 4):
            notes.append(
                f"round {r['round']} ({r['variant']}): at {r['first_failure_rps']} req/s the client used "
                f"{fail['loadgen_core_share']:.0%} of a core, send lag p99 {fail['send_lag_p99_ms']} ms"
            )
    return notes


def _verdict(ratios: dict[str, float | None]) -> str:
    out = []
    t, p = ratios["throughput_b_over_a"], ratios["p99_shadow_over_b"]
    if t is not None:
        met = "met" if t >= THROUGHPUT_TARGET else "NOT met"
        out.append(f"throughput (b)/(a) = {t:.2f}x (target >= {THROUGHPUT_TARGET}: {met})")
    if p is not None:
        met = "met" if p <= SHADOW_P99_TARGET else "NOT met"
        out.append(f"p99 (d)/(b) = {p:.2f}x (target <= {SHADOW_P99_TARGET}: {met})")
    c = ratios.get("p99_canary_over_b")
    if c is not None:
        met = "met" if c <= CANARY_P99_TARGET else "NOT met"
        out.append(f"p99 (c)/(b) = {c:.2f}x (target <= {CANARY_P99_TARGET}: {met})")
    if ratios.get("cpu_bound_throughput_b_over_a") is not None:
        out.append(
            f"server CPU per request (a)/(b) = {ratios['cpu_bound_throughput_b_over_a']:.2f}x "
            "(the (b)/(a) throughput ratio when the 2 cores are saturated by this benchmark alone)"
        )
    return "\n".join(out)


def _max_rate_report(rows: list[dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    """Print the --max-rate table (medians over rounds), per-round ratios and client notes; return them for --out."""
    medians = _max_rate_medians(rows, args.variants)
    per_round = []
    for r in range(1, args.rounds + 1):
        mine = _max_rate_medians([row for row in rows if row["round"] == r], args.variants)
        per_round.append(
            {"round": r, **{f"ratio_{m['variant']}_over_a": m["ratio_to_a"] for m in mine if m["variant"] != "a"}}
        )
    one, five, fifteen = os.getloadavg()
    over = " (medians over rounds)" if args.rounds > 1 else ""
    print(f"\nlargest rate held with p99 < {args.p99_limit_ms:g} ms{over}:")
    print(_max_rate_table(medians, args.p99_limit_ms))
    for pr in per_round if args.rounds > 1 else []:
        print(f"round {pr['round']}: " + ", ".join(f"{k} = {v and round(v, 2)}" for k, v in pr.items() if k != "round"))
    print(
        f"load average now {one:.2f} / {five:.2f} / {fifteen:.2f} (1 / 5 / 15 min) on {os.cpu_count()} CPUs; open "
        f"loop from one httpx process, {RATE_CONNECTIONS} connections, {args.rate_warmup:g} s + "
        f"{args.rate_seconds:g} s per step; a step passes with p99 < {args.p99_limit_ms:g} ms, no errors and answers "
        f">= {ACHIEVED_MIN:.0%} of the offered rate"
    )
    for note in _client_notes(rows, args.p99_limit_ms):
        print(f"note (the limit may be partly the client's): {note}")
    settings = {"rate_seconds": args.rate_seconds, "rate_warmup": args.rate_warmup, "p99_limit_ms": args.p99_limit_ms}
    settings |= {
        "start": RATE_START,
        "factor": RATE_FACTOR,
        "bisections": RATE_BISECTIONS,
        "achieved_min": ACHIEVED_MIN,
    }
    settings["connections"] = RATE_CONNECTIONS
    return {"settings": settings, "medians": medians, "per_round": per_round, "loadavg": [one, five, fifteen]}


# ---------------------------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description="driftline serving overhead vs a bare Ray Serve app (issue #5)")
    parser.add_argument("--duration", type=float, default=15.0, help="measured seconds per variant")
    parser.add_argument("--warmup", type=float, default=3.0, help="unmeasured seconds before each measurement")
    parser.add_argument("--concurrency", type=int, default=8, help="closed-loop connections")
    parser.add_argument("--rounds", type=int, default=3, help="repeat a, b, c, d this many times, in varied order")
    parser.add_argument("--variants", default="abrcd", help="subset of abrcd, in order")
    parser.add_argument(
        "--placement",
        choices=("inline", "remote"),
        default="inline",
        help="the placement of the driftline app measured as (b), (c) and (d); (r) is always remote",
    )
    parser.add_argument("--loadgen", choices=("auto", "wrk", "httpx"), default="auto")
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary work folder")
    parser.add_argument(
        "--open-load",
        type=float,
        default=0.0,
        help="also measure (b) and (d) open-loop (httpx) at this fraction of (b)'s closed-loop throughput, e.g. 0.5",
    )
    parser.add_argument(
        "--max-rate",
        action="store_true",
        help="also find, per variant and round, the largest open-loop rate with p99 under --p99-limit-ms",
    )
    parser.add_argument("--rate-seconds", type=float, default=5.0, help="--max-rate: measured seconds per step")
    parser.add_argument("--rate-warmup", type=float, default=2.0, help="--max-rate: unmeasured seconds per step")
    parser.add_argument("--p99-limit-ms", type=float, default=100.0, help="--max-rate: the p99 a rate must stay under")
    parser.add_argument(
        "--patched-code",
        default=None,
        help="a folder holding a modified copy of the driftline package: adds variant (p), champion-only on that "
        "code, measured after (b) in every round (run from a folder without a driftline/ inside, e.g. /tmp)",
    )
    args = parser.parse_args(argv)
    args.variants = [v for v in args.variants if v in VARIANTS and v != "p"]
    if args.patched_code:
        if (Path.cwd() / "driftline").is_dir():
            # Ray puts the driver's working folder first on every worker's sys.path: it would shadow the copy.
            raise SystemExit("--patched-code: run from a folder without driftline/ in it (e.g. cd /tmp)")
        at = args.variants.index("b") + 1 if "b" in args.variants else len(args.variants)
        args.variants.insert(at, "p")
    kind = available(args.loadgen)

    import ray
    from ray import serve

    from driftline.serve_apps.app import build_app
    from driftline.train_jobs.champion import train_champion

    workdir = Path(tempfile.mkdtemp(prefix="driftline-bench-"))
    cfg = _config(workdir).with_overrides(**{"serve.placement": args.placement})
    started = time.perf_counter()
    # address="local": always a fresh cluster of our own, never one another process on this machine started
    try:
        ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
        print(f"setup: training the champion in {workdir} ...", flush=True)
        champion = train_champion(cfg)
        candidate = _register_candidate(cfg)
        port = _free_port()
        serve.start(http_options={"host": "127.0.0.1", "port": port})
        serve.run(_bare_app(cfg), name="bare", route_prefix="/bare")
        serve.run(build_app(cfg), name="driftline", route_prefix="/dl")
        if "r" in args.variants:  # the same app, its models in slot deployments (its own state and logs)
            remote = {"workdir": str(workdir / "remote"), "mlflow.tracking_uri": cfg.tracking_uri}
            remote_cfg = cfg.with_overrides(**remote, **{"serve.placement": "remote"})
            serve.run(build_app(remote_cfg), name="driftline-remote", route_prefix="/dlr")
        if args.patched_code:
            patched_cfg = cfg.with_overrides(
                **{"workdir": str(workdir / "patched"), "mlflow.tracking_uri": cfg.tracking_uri}
            )
            (workdir / "patched").mkdir()
            app = _patched_app(patched_cfg, str(Path(args.patched_code).resolve()))
            serve.run(app, name="driftline-patched", route_prefix="/dlp")
        bare, dl = f"http://127.0.0.1:{port}/bare", f"http://127.0.0.1:{port}/dl"
        bodies = _bodies(cfg)
        _check_same_model(bare, dl, bodies)
        if "r" in args.variants:
            _check_same_model(bare, dl.replace("/dl", "/dlr"), bodies)
        if args.patched_code:
            _check_same_model(bare, dl.replace("/dl", "/dlp"), bodies)
        print(
            f"setup done in {time.perf_counter() - started:.0f} s: champion v{champion.version.version}, "
            f"candidate v{candidate}; load: {kind}, concurrency {args.concurrency}, {args.warmup:g} s warm-up + "
            f"{args.duration:g} s per variant, {args.rounds} round(s)"
            + (
                f"; --max-rate: httpx open loop, {args.rate_warmup:g} s warm-up + {args.rate_seconds:g} s per step"
                if args.max_rate
                else ""
            ),
            flush=True,
        )
        rows: list[dict[str, Any]] = []
        for r in range(args.rounds):
            print(f"round {r + 1}/{args.rounds}", flush=True)
            for row in _round(bare, dl, candidate, args, bodies, kind, r):
                rows.append({**row, "round": r + 1})
    finally:
        if ray.is_initialized():
            serve.shutdown()
            ray.shutdown()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)

    per_round = []
    for r in range(1, args.rounds + 1):
        by = {row["variant"]: row for row in rows if row["round"] == r and row["loop"] == "closed"}
        per_round.append({"round": r, **_ratios(by)})
    medians = [m for v in args.variants if (m := _median(rows, v)) is not None]
    ratios = _ratios({m["variant"]: m for m in medians})
    print()
    print(_table(medians) if args.rounds == 1 else "medians over rounds:\n" + _table(medians))
    print()
    print(_cpu_table(medians))
    print()
    for pr in per_round if args.rounds > 1 else []:
        t, p, c = pr["throughput_b_over_a"], pr["p99_shadow_over_b"], pr["p99_canary_over_b"]
        print(
            f"round {pr['round']}: throughput (b)/(a) = {t and round(t, 2)}, p99 (d)/(b) = {p and round(p, 2)}, "
            f"p99 (c)/(b) = {c and round(c, 2)}"
        )
    print(_verdict(ratios))
    open_loop: dict[str, Any] = {}
    if args.open_load > 0:
        opened = [m for v in ("b", "d") if (m := _median(rows, v, "open")) is not None]
        rates = sorted({r["rate"] for r in rows if r["loop"] == "open"})
        open_loop = {"load": args.open_load, "rates": rates, "medians": opened}
        open_loop["ratios"] = _ratios({m["variant"]: m for m in opened})
        print(
            f"\nopen loop at {args.open_load:g} x (b)'s closed-loop throughput ({', '.join(f'{r:g}' for r in rates)} "
            "requests/s; httpx, latency from each request's scheduled send time):"
        )
        print(_table(opened))
        p99 = open_loop["ratios"]["p99_shadow_over_b"]
        if p99 is not None:
            met = "met" if p99 <= SHADOW_P99_TARGET else "NOT met"
            print(f"open-loop p99 (d)/(b) = {p99:.2f}x (target <= {SHADOW_P99_TARGET}: {met})")
    max_rate: dict[str, Any] = {}
    if args.max_rate:
        max_rate = _max_rate_report(rows, args)
    checks = [f"round {r['round']} {k} = {r[k]:.3f}" for r in rows for k in CHECKS if r.get(k) is not None]
    if checks:
        print("checks (canary: candidate share of served requests; shadow: shadow calls per request): ")
        print("  " + ", ".join(checks))
    result = {
        "settings": {
            "duration": args.duration,
            "warmup": args.warmup,
            "concurrency": args.concurrency,
            "rounds": args.rounds,
            "loadgen": kind,
            "cpus": os.cpu_count(),
        },
        "runs": rows,
        "medians": medians,
        "ratios": ratios,
        "ratios_per_round": per_round,
        "open_loop": open_loop,
        "max_rate": max_rate,
        "targets": {"throughput_b_over_a": THROUGHPUT_TARGET, "p99_shadow_over_b": SHADOW_P99_TARGET},
    }
    if args.out:
        args.out.write_text(json.dumps(result, indent=2))
        print(f"wrote {args.out}")
    return result


if __name__ == "__main__":
    main()
