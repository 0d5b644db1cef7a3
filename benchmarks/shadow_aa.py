"""A/A shadow under load (issue #20): how often a 100% shadow of an identical candidate passes its checks.

    PYTHONPATH=. python benchmarks/shadow_aa.py --runs 100            # the issue's criterion: >= 99 of 100 pass
    PYTHONPATH=. python benchmarks/shadow_aa.py --runs 30 --placement remote

Setup (untimed): a local Ray (``num_cpus=2``), a champion trained and registered in a temporary folder, and a
second version with the same weights, and driftline's app (``--placement``, default inline; one router replica at
0.1 CPU). Then a closed-loop load (``wrk``, else httpx; 8 connections, single-row requests) runs for the whole
measurement while ``--runs`` shadow rollouts follow one another, each of the version that is not champion, with
the default checks (``min_requests`` 500 mirrored calls, error rate <= 1%, candidate p99 <= 1.5x the champion's).
A pass promotes the candidate, so the next run shadows the other (identical) version. Every verdict is printed
with its p99 ratio and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _loadgen import available, run_load
from serve_overhead import AUTH, _bodies, _config, _free_port, _register_candidate, _wait

TARGET_PASSES = 0.99


def _verdict(url: str, candidate: str) -> dict[str, Any]:
    """Run one shadow rollout of ``candidate`` to its end; its phase, the p99 ratio checked and the reason."""
    spec = {"mode": "shadow", "candidate_version": candidate, "shadow": {"fraction": 1.0}}
    started = httpx.post(f"{url}/rollout", json=spec, headers=AUTH, timeout=60)
    if started.status_code != 200:
        raise RuntimeError(f"POST /rollout -> {started.status_code}: {started.text}")

    def done() -> dict[str, Any] | None:
        rollout = httpx.get(f"{url}/rollout", timeout=30).json()["rollout"]
        return rollout if rollout["phase"] in ("PROMOTED", "ROLLED_BACK") else None

    rollout = _wait(done, f"the shadow of v{candidate} to end", timeout=300)
    last = rollout["history"][-1]
    checks = {c["name"]: c for c in (last.get("evidence") or {}).get("checks", [])}
    ratio = checks.get("p99_latency_ratio", {}).get("observed")
    return {"phase": rollout["phase"], "p99_ratio": ratio, "reason": last["reason"], "load_1m": os.getloadavg()[0]}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--placement", choices=("inline", "remote"), default="inline")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)

    import ray
    from ray import serve

    from driftline.serve_apps.app import build_app
    from driftline.train_jobs.champion import train_champion

    workdir = Path(tempfile.mkdtemp(prefix="driftline-aa-"))
    cfg = _config(workdir).with_overrides(**{"serve.placement": args.placement})
    verdicts: list[dict[str, Any]] = []
    stop = threading.Event()
    try:
        ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
        champion = train_champion(cfg).version.version
        twin = _register_candidate(cfg, tune=False)  # the champion's own weights: an A/A candidate
        port = _free_port()
        serve.start(http_options={"host": "127.0.0.1", "port": port})
        serve.run(build_app(cfg), name="driftline", route_prefix="/dl")
        url = f"http://127.0.0.1:{port}/dl"
        bodies, kind = _bodies(cfg), available("auto")

        def load() -> None:  # closed loop for the whole measurement, in windows of 30 s
            while not stop.is_set():
                run_load(kind, f"{url}/predict", bodies, 8, 30.0, 0.0)

        threading.Thread(target=load, daemon=True).start()
        time.sleep(5.0)
        print(f"A/A shadow of v{champion} and v{twin} (same weights), placement {args.placement}, load: {kind} c=8")
        current = champion
        for run in range(args.runs):
            candidate = twin if current == champion else champion
            verdict = _verdict(url, candidate)
            verdicts.append(verdict)
            if verdict["phase"] == "PROMOTED":  # the twin is champion now: the next run shadows the other one
                current = candidate
            ratio = verdict["p99_ratio"]
            print(
                f"run {run + 1:>3}: {verdict['phase']:<11} p99 ratio {ratio if ratio is None else round(ratio, 2)} "
                f"(load {verdict['load_1m']:.2f})",
                flush=True,
            )
    finally:
        stop.set()
        if ray.is_initialized():
            serve.shutdown()
            ray.shutdown()
        shutil.rmtree(workdir, ignore_errors=True)
    passed = sum(v["phase"] == "PROMOTED" for v in verdicts)
    share = passed / len(verdicts) if verdicts else 0.0
    ratios = sorted(v["p99_ratio"] for v in verdicts if v["p99_ratio"] is not None)
    met = "met" if share >= TARGET_PASSES else "NOT met"
    print(f"\npassed {passed} of {len(verdicts)} A/A shadow checks ({share:.0%}; target >= {TARGET_PASSES:.0%}: {met})")
    if ratios:
        print(f"p99 ratio candidate/champion: median {ratios[len(ratios) // 2]:.2f}, max {ratios[-1]:.2f} (limit 1.5)")
    for verdict in verdicts:
        if verdict["phase"] != "PROMOTED":
            print(f"  failed: {verdict['reason']}")
    result = {"placement": args.placement, "runs": verdicts, "passed": passed}
    if args.out:
        args.out.write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
