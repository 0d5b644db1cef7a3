"""Drift scan benchmark: in-memory engine vs Ray Data engine vs plain scipy/numpy baselines (issue #3).

    python benchmarks/drift_scan.py                      # 1M + 1M rows x 20 floats, and a 10M-row Parquet set
    python benchmarks/drift_scan.py --rows 100000 --big-rows 1000000   # small, for a quick look

Every contender runs in a fresh subprocess so one's memory cannot inflate another's:

(a) in-memory engine: build the reference profile from 1M rows, summarise 1M current rows, kernel -> report.
(b) Ray Data engine: one ``map_batches`` pass over the Parquet set (profile loaded from JSON), kernel -> report;
    run on 1M (the first files of the set) and on all of it. Ray starts and warms up (one tiny pass) untimed.
(c) baseline, per column: ``scipy.stats.ks_2samp``, numpy PSI on 10 reference-quantile bins,
    ``scipy.stats.wasserstein_distance``, on the same in-memory 1M + 1M arrays.
(d) single-process numpy histogram pass over the same Parquet files (file by file, the same per-block summariser
    the Ray tasks run), the reference point for the Ray engine at 10M rows.

Peak memory: for (a), (c), (d) the peak resident set (VmHWM) of the subprocess, reset after the input data is
built (``/proc/self/clear_refs``), so it counts the inputs held in memory plus everything the method allocates.
For (b), a sampler thread sums the proportional set size (PSS, so the shared object store is counted once) of
the driver and every Ray worker process (``ray::`` processes descended from the driver) every 50 ms; the peak of
that sum is reported, from a baseline taken after warm-up. Ray's own daemons (GCS, raylet) are left out: they
do not grow with the data.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

N_FEATURES = 20
SHIFTS = {0: ("mean", 0.5), 1: ("mean", 0.3), 2: ("mean", 0.1), 3: ("scale", 1.5), 4: ("mean", 0.01)}
FILE_ROWS = 500_000


# ---------------------------------------------------------------------------------------------- data
def _columns(n: int, seed: int, shifted: bool) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    out = {}
    for i in range(N_FEATURES):
        x = rng.standard_normal(n)
        kind, amount = SHIFTS.get(i, ("none", 0.0))
        if shifted and kind == "mean":
            x += amount
        elif shifted and kind == "scale":
            x *= amount
        out[f"f{i:02d}"] = x
    return out


def _frame(n: int, seed: int, shifted: bool) -> Any:
    import pandas as pd

    return pd.DataFrame(_columns(n, seed, shifted))


def _write_parquet(folder: Path, rows: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    for k, start in enumerate(range(0, rows, FILE_ROWS)):
        n = min(FILE_ROWS, rows - start)
        pq.write_table(pa.table(_columns(n, 1000 + k, True)), folder / f"part-{k:04d}.parquet", row_group_size=n)


# ---------------------------------------------------------------------------------------------- memory
def _reset_peak() -> float:
    """Reset the peak RSS to the current RSS (Linux >= 4.0) and return it in MB."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        print("warning: cannot reset the peak RSS; peaks include data generation", file=sys.stderr)
    return _peak_mb()


def _peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class _PssSampler:
    """Peak of the summed PSS of this process and its ``ray::`` worker descendants, sampled in a thread."""

    def __init__(self, interval: float = 0.05) -> None:
        import psutil

        self._psutil, self._me = psutil, psutil.Process()
        self.interval, self.peak, self._stop = interval, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> float:
        total = 0
        procs = [self._me]
        for child in self._me.children(recursive=True):
            try:
                if child.name().startswith("ray::"):
                    procs.append(child)
            except (self._psutil.NoSuchProcess, self._psutil.AccessDenied):
                continue  # a worker that exited between listing and reading
        for p in procs:
            try:
                total += p.memory_full_info().pss  # PSS: shared pages (object store) split between processes
            except (self._psutil.NoSuchProcess, self._psutil.AccessDenied):
                continue
        return total / 2**20

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.sample())
            time.sleep(self.interval)

    def __enter__(self) -> _PssSampler:
        self.peak = self.sample()
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.sample())


# ---------------------------------------------------------------------------------------------- contenders
def _schema() -> Any:
    from driftline.datasets.schema import DatasetSchema, FeatureKind, FeatureSpec

    return DatasetSchema(tuple(FeatureSpec(f"f{i:02d}", FeatureKind.NUMERIC) for i in range(N_FEATURES)), "y", ())


def run_memory(rows: int) -> dict[str, Any]:
    from driftline.monitors import DriftConfig, build_reference_profile, build_report, summarize_frame

    ref, cur = _frame(rows, 1, False), _frame(rows, 2, True)
    build_report(*_tiny_profile_and_summary(), DriftConfig())  # warm imports and scipy's lazy tables
    start = _reset_peak()
    t0 = time.perf_counter()
    profile = build_reference_profile(ref, _schema())
    t1 = time.perf_counter()
    report = build_report(profile, summarize_frame(cur, profile), DriftConfig())
    t2 = time.perf_counter()
    return {
        "seconds": t2 - t0,
        "profile_seconds": t1 - t0,
        "peak_mb": _peak_mb(),
        "start_mb": start,
        "drifted": report["summary"]["drifted_features"],
    }


def _tiny_profile_and_summary() -> tuple[Any, Any]:
    from driftline.monitors import build_reference_profile, summarize_frame

    p = build_reference_profile(_frame(2000, 5, False), _schema(), n_bins=100)
    return p, summarize_frame(_frame(2000, 6, True), p)


def run_baseline(rows: int) -> dict[str, Any]:
    from scipy import stats

    import driftline.monitors  # noqa: F401  (same imports as (a), so only the methods' memory differs)

    ref, cur = _frame(rows, 1, False), _frame(rows, 2, True)
    stats.ks_2samp(ref["f00"].to_numpy()[:1000], cur["f00"].to_numpy()[:1000])  # warm imports
    start = _reset_peak()
    t0 = time.perf_counter()
    drifted = []
    for name in ref.columns:
        a, b = ref[name].to_numpy(), cur[name].to_numpy()
        ks = stats.ks_2samp(a, b)
        edges = np.quantile(a, np.arange(1, 10) / 10)
        p = np.maximum(np.bincount(np.searchsorted(edges, a), minlength=10) / a.size, 1e-4)
        q = np.maximum(np.bincount(np.searchsorted(edges, b), minlength=10) / b.size, 1e-4)
        psi = float(np.sum((q - p) * np.log(q / p)))
        w = stats.wasserstein_distance(a, b) / a.std()
        if ks.pvalue < 0.05 and ks.statistic >= 0.1:
            drifted.append(name)
        del psi, w
    return {"seconds": time.perf_counter() - t0, "peak_mb": _peak_mb(), "start_mb": start, "drifted": drifted}


def run_numpy_pass(folder: str, profile_json: str) -> dict[str, Any]:
    import pyarrow.parquet as pq

    from driftline.monitors import DriftConfig, ReferenceProfile, build_report
    from driftline.monitors.window import SummaryPlan, summarize_table

    profile = ReferenceProfile.from_json(Path(profile_json).read_text())
    files = sorted(Path(folder).glob("*.parquet"))
    start = _reset_peak()
    t0 = time.perf_counter()
    plan = SummaryPlan.for_window(profile, pq.read_schema(files[0]))
    total = None
    for f in files:
        part = summarize_table(pq.read_table(f, columns=plan.columns), plan)
        total = part if total is None else total.merge(part)
    assert total is not None
    report = build_report(profile, total, DriftConfig())
    return {
        "seconds": time.perf_counter() - t0,
        "peak_mb": _peak_mb(),
        "start_mb": start,
        "drifted": report["summary"]["drifted_features"],
    }


def run_ray(folder: str, profile_json: str) -> dict[str, Any]:
    import ray

    from driftline.monitors import DriftConfig, ReferenceProfile, build_report, summarize_parquet_ray

    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)  # a fresh private Ray
    ray.data.DataContext.get_current().enable_progress_bars = False
    profile = ReferenceProfile.from_json(Path(profile_json).read_text())
    first = sorted(Path(folder).glob("*.parquet"))[0]
    summarize_parquet_ray(first, profile)  # warm-up: start the workers, import numpy/pyarrow there
    with _PssSampler() as sampler:
        idle = sampler.peak
        t0 = time.perf_counter()
        report = build_report(profile, summarize_parquet_ray(folder, profile), DriftConfig())
        seconds = time.perf_counter() - t0
    ray.shutdown()
    return {
        "seconds": seconds,
        "peak_mb": sampler.peak,
        "start_mb": idle,
        "drifted": report["summary"]["drifted_features"],
    }


# ---------------------------------------------------------------------------------------------- driver
def _in_subprocess(name: str, *args: str) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--worker", name, *args]
    out = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "RAY_DEDUP_LOGS": "0"})
    if out.returncode != 0:
        sys.exit(f"contender {name} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000, help="reference rows = current rows in memory")
    ap.add_argument("--big-rows", type=int, default=10_000_000, help="rows of the Parquet dataset")
    ap.add_argument("--data-dir", default="/tmp/driftline-bench", help="where the Parquet sets are written")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("args", nargs="*", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        fn = {"memory": run_memory, "baseline": run_baseline, "numpy_pass": run_numpy_pass, "ray": run_ray}[a.worker]
        cast = [int(v) if v.isdigit() else v for v in a.args]
        print(json.dumps(fn(*cast)))
        return

    data = Path(a.data_dir)
    big, small = data / f"big-{a.big_rows}", data / f"small-{a.rows}"
    if not big.exists():
        print(f"writing {a.big_rows:,} rows x {N_FEATURES} floats to {big} ...", flush=True)
        _write_parquet(big, a.big_rows)
    if not small.exists():  # the first files of the big set: same file size, so per-block memory is the same
        small.mkdir(parents=True)
        for f in sorted(big.glob("*.parquet"))[: max(1, a.rows // FILE_ROWS)]:
            (small / f.name).symlink_to(f)
    profile_json = data / f"profile-{a.rows}.json"
    from driftline.monitors import build_reference_profile

    profile_json.write_text(build_reference_profile(_frame(a.rows, 1, False), _schema()).to_json())
    small_rows = min(sum(1 for _ in small.glob("*.parquet")) * FILE_ROWS, a.big_rows)

    print(f"(a) in-memory engine, {a.rows:,} + {a.rows:,} rows ...", flush=True)
    mem = _in_subprocess("memory", str(a.rows))
    print("(c) baseline ks_2samp + PSI + wasserstein_distance ...", flush=True)
    base = _in_subprocess("baseline", str(a.rows))
    print(f"(d) numpy pass over Parquet ({a.big_rows:,} rows) ...", flush=True)
    npass = _in_subprocess("numpy_pass", str(big), str(profile_json))
    print(f"(b) Ray Data engine over Parquet ({small_rows:,} and {a.big_rows:,} rows) ...", flush=True)
    ray_small = _in_subprocess("ray", str(small), str(profile_json))
    ray_big = _in_subprocess("ray", str(big), str(profile_json))

    rows = [
        ("(a) in-memory engine (profile + summary + report)", f"{a.rows:,}+{a.rows:,}", mem),
        ("(c) baseline: ks_2samp + numpy PSI + wasserstein_distance", f"{a.rows:,}+{a.rows:,}", base),
        ("(b) Ray Data engine, Parquet", f"{small_rows:,}", ray_small),
        ("(b) Ray Data engine, Parquet", f"{a.big_rows:,}", ray_big),
        ("(d) single-process numpy pass, Parquet", f"{a.big_rows:,}", npass),
    ]
    print("\n| contender | rows | wall s | peak MB | peak - start MB |\n|---|---:|---:|---:|---:|")
    for name, n, r in rows:
        print(f"| {name} | {n} | {r['seconds']:.2f} | {r['peak_mb']:.0f} | {r['peak_mb'] - r['start_mb']:.0f} |")
    speedup = base["seconds"] / mem["seconds"]
    mem_ratio = mem["peak_mb"] / base["peak_mb"]
    ray_vs_numpy = ray_big["seconds"] / npass["seconds"]
    ray_growth = ray_big["peak_mb"] / ray_small["peak_mb"]
    print("\n| ratio | value | target |\n|---|---:|---|")
    print(f"| baseline time / in-memory engine time | {speedup:.1f}x | >= 5x {'PASS' if speedup >= 5 else 'MISS'} |")
    print(f"| in-memory peak / baseline peak | {mem_ratio:.2f} | <= 1 {'PASS' if mem_ratio <= 1 else 'MISS'} |")
    verdict = "PASS" if ray_vs_numpy <= 2 else "MISS"
    print(f"| Ray time / numpy pass time ({a.big_rows:,}) | {ray_vs_numpy:.2f} | <= 2 {verdict} |")
    verdict = "PASS" if ray_growth <= 1.3 else "MISS"
    print(f"| Ray peak {a.big_rows:,} / Ray peak {small_rows:,} | {ray_growth:.2f} | <= 1.3 {verdict} |")
    print(f"drifted (engine): {mem['drifted']}\ndrifted (baseline rule D>=0.1 & p<0.05): {base['drifted']}")
    print(f"drifted (Ray, {a.big_rows:,} shifted rows): {ray_big['drifted']}")


if __name__ == "__main__":
    main()
