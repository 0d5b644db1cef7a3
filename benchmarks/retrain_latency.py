"""Retrain latency: time from a retrain decision to a registered, gated candidate, and where it goes (issue #13).

    PYTHONPATH=. .venv/bin/python benchmarks/retrain_latency.py                  # windows of 5k, 50k and 500k rows
    PYTHONPATH=. .venv/bin/python benchmarks/retrain_latency.py --sizes 5000 --repeats 3

For each window size: a fresh work folder (MLflow on SQLite), a synthetic ``concept_drift`` stream of twice the
window (the concept flips at half), a champion trained on its first 3,000 rows on Ray Train (untimed), then the
whole ``run_retrain`` path is timed on the stream's last ``size`` rows (after the flip) with the first 5,000
rows as replay/forgetting data, with the demo's settings (``configs/demo/retrain.yaml``: 12 epochs, warm start
with shrink-and-perturb, replay 0.1; ``train.cpus_per_worker`` 0.5): first with the local executor (the same
loop in-process, no Ray Train: the baseline, torch on one thread like a Ray Train worker), then with Ray Train.
The 500k window runs 2 epochs capped at 500 steps each (a full 12 epochs would be ~50k steps and measure torch,
not the fixed costs). Ray is started once, before anything is timed, like a control loop that already runs Ray;
its start-up is printed on its own line.

The phases come from ``RetrainOutcome.timings`` (the driver's ``PhaseTimer`` and rank 0's own wall-clock marks)
and from a benchmark-only Ray Train callback (``benchmarks/_train_timing.py``, loaded through
``RAY_TRAIN_CALLBACKS``) that timestamps the controller and the worker group. Each figure is printed with the
1-minute load average (``os.getloadavg()``) at the start and the end of the run it belongs to.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("RAY_TRAIN_CALLBACKS", "benchmarks._train_timing.TimingCallback")
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)

from benchmarks._train_timing import read_events  # noqa: E402

CHAMPION_ROWS = 3000
OLDER_ROWS = 5000  # replay / forgetting data: the stream's first rows, all before the flip
# (label, key in the timings) in the order they happen; Ray-only rows are blank for the local executor.
PHASES = [
    ("load champion (MLflow)", "load_champion"),
    ("split, replay, warm start", "prepare"),
    ("Ray start (ensure_ray)", "ray_start"),
    ("encode window + put in object store", "encode_window"),
    ("trainer construction (+ Ray Dataset before #13)", "trainer_construction"),
    ("controller actor start", "controller_start"),
    ("worker actors start", "worker_actors"),
    ("process group + dataset split", "backend_setup"),
    ("train function start", "train_fn_start"),
    ("first batch (Ray Data start, before #13)", "dataset_first_batch"),
    ("read window shard (object store)", "window_read"),
    ("training epochs (compute)", "epochs"),
    ("waiting for batches", "data_wait"),
    ("checkpoints", "checkpoint"),
    ("end of training -> fit() returns", "fit_teardown"),
    ("load the result checkpoint", "load_result"),
    ("offline gates (evaluation)", "gates"),
    ("MLflow registration + profile", "mlflow_register"),
]


def _load() -> float:
    return os.getloadavg()[0]


def _split_worker_start(timings: dict[str, float], run_dir: Path) -> dict[str, float]:
    """Split the driver's ``worker_start`` with the controller's events and rank 0's entry time."""
    events, worker = read_events(run_dir), run_dir / "_markers" / "worker_timings.json"
    if "worker_start" not in timings or not worker.is_file() or "training_start" not in events:
        return {}
    entered = json.loads(worker.read_text())["entered_at"]
    fit_started = entered - timings["worker_start"]
    return {
        "controller_start": events["controller_start"] - fit_started,
        "worker_actors": events["worker_group_ready"] - events["controller_start"],
        "backend_setup": events["training_start"] - events["worker_group_ready"],
        "train_fn_start": entered - events["training_start"],
    }


def _stream(size: int) -> tuple[Any, Any, Any]:
    from driftline.datasets.synthetic import generate_stream

    frame, _ = generate_stream("concept_drift", 2 * max(size, CHAMPION_ROWS), seed=7)
    return frame, frame.iloc[-size:], frame.iloc[: len(frame) - size]


def _configs(workdir: Path, size: int, executor: str) -> tuple[Any, Any]:
    from driftline.core.config_loader import load_config, load_yaml_model
    from driftline.train_jobs.retrain_config import Executor, RetrainConfig

    cfg = load_config(
        None,
        workdir=workdir,
        overrides={
            "data.scenario": "concept_drift",
            "data.n_rows": 2 * max(size, CHAMPION_ROWS),
            "train.train_rows": CHAMPION_ROWS,
            "train.epochs": 2,
            "train.cpus_per_worker": 0.5,
        },
    )
    rcfg = load_yaml_model(ROOT / "configs" / "demo" / "retrain.yaml", RetrainConfig)
    update: dict[str, Any] = {"executor": Executor(executor)}
    if size > 100_000:
        update |= {"epochs": 2, "max_steps_per_epoch": 500}
    return cfg, rcfg.model_copy(update=update)


def _one(cfg: Any, rcfg: Any, window: Any, older: Any) -> dict[str, Any]:
    from driftline.train_jobs.retrain import run_retrain

    load_before = _load()
    out = run_retrain(cfg, rcfg, window, older=older, trigger="benchmark")
    timings = dict(getattr(out, "timings", {}))  # (absent before #13: then only the total)
    if out.run_name:
        timings |= _split_worker_start(timings, cfg.workdir_path / "ray_results" / out.run_name)
    return {
        "status": out.status.value,
        "total": out.seconds,
        "timings": timings,
        "epochs": len(out.history),
        "load": (load_before, _load()),
    }


def bench_size(size: int, repeats: int, root: Path) -> dict[str, list[dict[str, Any]]]:
    """Champion (untimed), then ``repeats`` timed retrains per executor, local first."""
    from driftline.train_jobs.champion import train_champion

    stream, window, older = _stream(size)
    cfg, _ = _configs(root / f"rows-{size}", size, "ray")
    champion = train_champion(cfg)
    print(f"  {size:>7,} rows: champion on Ray Train (untimed) {champion.seconds:.1f} s, load {_load():.1f}")
    runs: dict[str, list[dict[str, Any]]] = {"local": [], "ray": []}
    for _ in range(repeats):
        for executor in ("local", "ray"):
            cfg, rcfg = _configs(root / f"rows-{size}", size, executor)
            runs[executor].append(_one(cfg, rcfg, window, older.iloc[:OLDER_ROWS]))
            r = runs[executor][-1]
            print(f"  {size:>7,} rows {executor:>5}: {r['total']:6.2f} s ({r['status']}, load {r['load'][0]:.1f})")
    del stream
    return runs


def _median(runs: list[dict[str, Any]], key: str | None) -> float | None:
    values = [r["total"] if key is None else r["timings"].get(key) for r in runs]
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def _table(results: dict[int, dict[str, list[dict[str, Any]]]]) -> str:
    cols = [(size, ex) for size in results for ex in ("local", "ray")]
    head = "| phase (median s) | " + " | ".join(f"{s:,} {ex}" for s, ex in cols) + " |"
    lines = [head, "|---|" + "---:|" * len(cols)]
    for label, key in PHASES:
        cells = [_median(results[s][ex], key) for s, ex in cols]
        if all(c is None or c < 0.0005 for c in cells):
            continue
        lines.append(f"| {label} | " + " | ".join("" if c is None else f"{c:.2f}" for c in cells) + " |")
    totals = [_median(results[s][ex], None) for s, ex in cols]
    lines.append("| **decision -> registered candidate** | " + " | ".join(f"**{t:.2f}**" for t in totals) + " |")
    ratios = [
        "" if ex == "local" else f"{(totals[i] or 0) / (totals[i - 1] or 1):.1f}x" for i, (_, ex) in enumerate(cols)
    ]
    lines.append("| Ray / local | " + " | ".join(ratios) + " |")
    loads = [max(x for r in results[s][ex] for x in r["load"]) for s, ex in cols]
    lines.append("| load average (1 min, max seen) | " + " | ".join(f"{v:.1f}" for v in loads) + " |")
    return "\n".join(lines)


def main() -> None:
    import ray
    import torch

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="5000,50000,500000", help="window rows, comma-separated")
    p.add_argument("--repeats", type=int, default=1, help="timed retrains per executor and size (median shown)")
    p.add_argument("--workdir", type=Path, default=None, help="work folder (default: a fresh temporary one)")
    p.add_argument("--json-out", type=Path, default=None, help="also write every run's figures here")
    args = p.parse_args()
    root = args.workdir or Path(tempfile.mkdtemp(prefix="retrain-latency-"))
    torch.set_num_threads(1)  # what a Ray Train worker gets (OMP_NUM_THREADS=1): the same loop, the same threads
    load_before, started = _load(), time.perf_counter()
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    print(f"Ray start (once, untimed below): {time.perf_counter() - started:.2f} s, load {load_before:.1f}")
    try:
        results = {int(s): bench_size(int(s), args.repeats, root) for s in args.sizes.split(",")}
    finally:
        ray.shutdown()
    print()
    print(_table(results))
    if args.json_out:
        args.json_out.write_text(json.dumps({str(k): v for k, v in results.items()}, indent=1))


if __name__ == "__main__":
    main()
