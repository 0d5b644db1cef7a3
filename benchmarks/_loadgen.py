"""Closed-loop HTTP load for the serving benchmark, always in a separate process from the server.

Two generators with the same contract (``concurrency`` connections, each sends the next request as soon as the
previous answer arrives, for ``warmup`` then ``duration`` seconds; only the second window is counted):

- ``wrk`` (C, epoll; Debian package ``wrk``): preferred, because on a 2-core machine the load generator competes
  with the server for CPU and wrk needs about a tenth of the CPU per request that a Python client does.
- ``httpx``: an asyncio client run as ``python benchmarks/_loadgen.py ...`` in a subprocess; the fallback when
  wrk is not installed, and a cross-check.

Both return :class:`LoadResult`. Bodies are cycled; each request carries ``X-User-Id: u<n>`` so a canary's sticky
assignment sees many distinct users. ``rate > 0`` makes the httpx client an open loop (a fixed arrival rate); it then
also reports the rate of answers it received in the window, how late it sent (its own event loop's lag) and the
share of a core it used in the window, to tell a saturated server from a saturated client.

    python benchmarks/_loadgen.py --url http://127.0.0.1:8000/predict --bodies bodies.json --duration 5
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = ["LoadResult", "available", "run_load"]

N_USERS = 5000


@dataclass(frozen=True)
class LoadResult:
    """What one measurement window produced; latencies in milliseconds."""

    requests: int
    errors: int  # non-2xx answers plus connect/read/write/timeout failures
    seconds: float
    p50_ms: float
    p99_ms: float
    mean_ms: float
    loadgen_cpu_s: float  # CPU the load generator used (user + system) in the window (httpx: warm-up included)
    achieved_rps: float | None = None  # open loop: answers (or failures) received in the window, per second
    send_lag_p99_ms: float | None = None  # open loop: p99 of (actual - scheduled) send time, the client's own lag
    loadgen_core_share: float | None = None  # httpx: the client's CPU in the window / the window (1.0: one core)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def to_dict(self) -> dict[str, Any]:
        """The fields (those not measured by this generator left out) and ``rps``."""
        return {**{k: v for k, v in asdict(self).items() if v is not None}, "rps": self.rps}


def available(kind: str) -> str:
    """Resolve ``auto`` to ``wrk`` when it is on PATH, else ``httpx``; check an explicit choice."""
    if kind == "auto":
        return "wrk" if shutil.which("wrk") else "httpx"
    if kind == "wrk" and not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: apt-get install -y wrk, or pass --loadgen httpx")
    return kind


Hook = Callable[[bool], None]


def _no_hook(_: bool) -> None:
    return None


def run_load(
    kind: str,
    url: str,
    bodies: list[str],
    concurrency: int,
    duration: float,
    warmup: float,
    on_window: Hook = _no_hook,
    rate: float = 0.0,
) -> LoadResult:
    """Drive ``url`` with POSTs of ``bodies`` (JSON strings) from a child process; ``kind`` is wrk | httpx.

    ``on_window(True)`` is called when the measured window opens and ``on_window(False)`` when it closes (for
    the caller's own accounting, e.g. CPU time of the server processes). ``rate > 0`` switches to an open loop
    (httpx only): ``rate`` requests per second on a fixed schedule whatever the answers' speed, latency counted
    from each request's scheduled time (no coordinated omission), ``concurrency`` connections.
    """
    if kind == "wrk" and rate <= 0:
        return _run_wrk(url, bodies, concurrency, duration, warmup, on_window)
    return _run_httpx(url, bodies, concurrency, duration, warmup, on_window, rate)


def _child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# ---------------------------------------------------------------------------------------------- wrk
_LUA = """
local bodies = %(bodies)s
local n = 0
request = function()
  n = n + 1
  local headers = {["Content-Type"] = "application/json", ["X-User-Id"] = "u" .. (n %% %(users)d)}
  return wrk.format("POST", nil, headers, bodies[(n %% #bodies) + 1])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%%d,"duration_us":%%d,"errors":%%d,"p50_us":%%d,"p99_us":%%d,"mean_us":%%f}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(99), latency.mean))
end
"""


def _lua_string(text: str) -> str:
    return "[==[" + text + "]==]"  # long bracket: no escaping needed for JSON


def _wrk_once(script: str, url: str, concurrency: int, seconds: float) -> dict[str, Any]:
    # One thread: a few thousand requests/s is far below what one wrk thread sustains, and it keeps wrk's
    # own CPU use (which competes with the server on this machine) minimal.
    cmd = ["wrk", "-t1", f"-c{concurrency}", f"-d{max(1, round(seconds))}s", "--timeout", "10s", "-s", script, url]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    line = next((ln for ln in out.splitlines() if ln.startswith("WRK_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary:\n{out}")
    return dict(json.loads(line[len("WRK_JSON ") :]))


def _run_wrk(
    url: str, bodies: list[str], concurrency: int, duration: float, warmup: float, on_window: Hook
) -> LoadResult:
    lua = _LUA % {"bodies": "{" + ", ".join(_lua_string(b) for b in bodies) + "}", "users": N_USERS}
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(lua)
    try:
        if warmup > 0:
            _wrk_once(fh.name, url, concurrency, warmup)  # warm-up: same connections pattern, discarded
        cpu0 = _child_cpu()
        on_window(True)
        res = _wrk_once(fh.name, url, concurrency, duration)
        on_window(False)
        cpu = _child_cpu() - cpu0
    finally:
        os.unlink(fh.name)
    return LoadResult(
        requests=int(res["requests"]),
        errors=int(res["errors"]),
        seconds=res["duration_us"] / 1e6,
        p50_ms=res["p50_us"] / 1000.0,
        p99_ms=res["p99_us"] / 1000.0,
        mean_ms=float(res["mean_us"]) / 1000.0,
        loadgen_cpu_s=cpu,
    )


# ---------------------------------------------------------------------------------------------- httpx
def _run_httpx(
    url: str, bodies: list[str], concurrency: int, duration: float, warmup: float, on_window: Hook, rate: float
) -> LoadResult:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(bodies, fh)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--url", url, "--bodies", fh.name]
    cmd += ["--concurrency", str(concurrency), "--duration", str(duration), "--warmup", str(warmup)]
    cmd += ["--rate", str(rate)]
    try:
        cpu0 = _child_cpu()
        # The window opens inside the child; a timer approximates it (the child's start-up takes about 1 s).
        opened = threading.Timer(warmup + 1.0, on_window, (True,))
        opened.start()
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        opened.join()
        on_window(False)
        cpu = _child_cpu() - cpu0
    finally:
        os.unlink(fh.name)
    data = json.loads(out.strip().splitlines()[-1])
    data["loadgen_cpu_s"] = cpu
    return LoadResult(**data)


async def _drive(
    url: str, bodies: list[str], concurrency: int, duration: float, warmup: float, rate: float = 0.0
) -> dict[str, Any]:
    import httpx
    import numpy as np

    latencies: list[float] = []
    lags: list[float] = []
    errors = answered = 0  # answered: open loop, answers (or failures) received inside the window
    cpu: list[float] = []  # the client's process time when the window opens and closes
    start = time.perf_counter()
    measure_from, stop_at = start + warmup, start + warmup + duration
    counter = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal errors, counter
        while True:
            counter += 1
            n = counter
            sent = time.perf_counter()
            if sent >= stop_at:
                return
            headers = {"Content-Type": "application/json", "X-User-Id": f"u{n % N_USERS}"}
            try:
                response = await client.post(url, content=bodies[n % len(bodies)], headers=headers)
                ok = response.status_code < 400
            except httpx.HTTPError:
                ok = False
            done = time.perf_counter()
            if sent >= measure_from and done <= stop_at:  # requests wholly inside the window, like wrk's -d
                latencies.append(done - sent)
                errors += not ok

    async def one(client: httpx.AsyncClient, n: int, scheduled: float) -> None:
        nonlocal errors, answered
        lag = time.perf_counter() - scheduled
        headers = {"Content-Type": "application/json", "X-User-Id": f"u{n % N_USERS}"}
        try:
            response = await client.post(url, content=bodies[n % len(bodies)], headers=headers)
            ok = response.status_code < 400
        except httpx.HTTPError:
            ok = False
        done = time.perf_counter()
        answered += measure_from <= done <= stop_at
        if scheduled >= measure_from:  # latency from the scheduled send time: queueing anywhere counts
            latencies.append(done - scheduled)
            lags.append(lag)
            errors += not ok

    async def cpu_window() -> None:
        for at in (measure_from, stop_at):
            await asyncio.sleep(max(0.0, at - time.perf_counter()))
            cpu.append(time.process_time())

    async def scheduler(client: httpx.AsyncClient) -> None:
        tasks = []
        n = 0
        while (scheduled := start + n / rate) < stop_at:
            await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
            tasks.append(asyncio.create_task(one(client, n, scheduled)))
            n += 1
        await asyncio.gather(*tasks)

    async with httpx.AsyncClient(timeout=10.0, limits=limits) as client:
        load = scheduler(client) if rate > 0 else asyncio.gather(*(worker(client) for _ in range(concurrency)))
        await asyncio.gather(load, cpu_window())
    lat = np.asarray(latencies) * 1000.0 if latencies else np.zeros(1)
    out = {
        "requests": len(latencies),
        "errors": errors,
        "seconds": duration,
        "p50_ms": float(np.percentile(lat, 50)),
        "p99_ms": float(np.percentile(lat, 99)),
        "mean_ms": float(lat.mean()),
        "loadgen_core_share": (cpu[1] - cpu[0]) / duration if duration else None,
    }
    if rate > 0:
        out["achieved_rps"] = answered / duration if duration else 0.0
        out["send_lag_p99_ms"] = float(np.percentile(np.asarray(lags or [0.0]) * 1000.0, 99))
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--bodies", required=True, help="JSON file: a list of request bodies (strings)")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--rate", type=float, default=0.0, help="open loop at this many requests/s (0: closed)")
    args = parser.parse_args(argv)
    bodies = json.loads(Path(args.bodies).read_text())
    result = asyncio.run(_drive(args.url, bodies, args.concurrency, args.duration, args.warmup, args.rate))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
