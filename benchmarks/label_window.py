"""Labels checked per second and the log writer's memory with 1M, 10M and 30M predictions inside the label window.

The writer checks, deduplicates and scores each label against its on-disk index (``serve_apps/label_index.py``).
Targets (issue "A label is never refused for lack of memory"): the writer's memory flat in the number of
predictions in the window; a label's check within 2x of the old in-memory check at 1M; a restart within 2x of the
old one at 1M. The baseline is the writer as it was before the index (``log_writer.py`` at commit ``BASELINE``, read
from git), measured in the same run on the same 1M-row log; it held only the newest 500,000 predictions, so its
labels are drawn from those.

Each measurement runs in a fresh child process (its RSS is the writer's alone). The 1M case writes a real Parquet
log (2,000-row files, as the writer flushes them) and times a restart with the index, a restart that rebuilds a
lost index from the log, and the old writer's restart; at 10M and 30M the index is built directly (writing 30M
Parquet rows adds nothing to what is measured). Labels hit random predictions across the whole window, the
worst case for a page cache; each call is a real ``feedback`` with its fsynced journal write.

    PYTHONPATH=. .venv/bin/python benchmarks/label_window.py [--sizes 1000000,10000000,30000000] [--labels 20000]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

BASELINE = "b3ad202"  # main before the label index: the in-memory index of the newest 500,000 predictions
WINDOW_HOURS = 48.0
FILE_ROWS = 2_000


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load {one:.1f}/{five:.1f}/{fifteen:.1f}"


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---------------------------------------------------------------------------------------------- the data
def _spread(n: int, now: float) -> list[float]:
    """``n`` prediction times spread evenly over the window's last 47 hours, oldest first."""
    span = (WINDOW_HOURS - 1) * 3600.0
    return [now - span + span * i / n for i in range(n)]


def _write_log(root: Path, n: int, now: float, sample: int) -> list[str]:
    """A real prediction log of ``n`` single-row requests (Parquet, hourly, ``FILE_ROWS`` per file); returns a
    random sample of its request ids."""
    from driftline.core.partitions import hour_partition
    from driftline.serve_apps.prediction_log import PREDICTIONS, ParquetSink
    from driftline.serve_apps.request_ids import new_request_id

    sink, rng = ParquetSink(root), random.Random(0)
    times = _spread(n, now)
    ids = [new_request_id(t) for t in times]
    for start in range(0, n, FILE_ROWS):
        part = slice(start, min(n, start + FILE_ROWS))
        count = part.stop - part.start
        micros = pa.array([int(t * 1e6) for t in times[part]], pa.int64()).cast(pa.timestamp("us", tz="UTC"))
        table = pa.table(
            {
                "request_id": ids[part],
                "client_request_id": [""] * count,
                "row": pa.array([0] * count, pa.int64()),
                "timestamp": micros,
                "model_name": ["m"] * count,
                "model_version": ["1"] * count,
                "variant": ["champion"] * count,
                "role": ["served"] * count,
                "x0": [rng.random() for _ in range(count)],
                "x1": [rng.random() for _ in range(count)],
                "prediction": pa.array([i % 2 for i in range(count)], pa.int64()),
                "latency_ms": [1.0] * count,
            }
        )
        folder = sink.root / PREDICTIONS / hour_partition(times[part.start])
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, folder / f"part-{start:012d}.parquet")
    return rng.sample(ids, sample)


def _build_index(folder: Path, n: int, now: float, sample: int) -> list[str]:
    """The label index of ``n`` single-row predictions, built directly; returns a random sample of their ids."""
    from driftline.serve_apps.label_index import IndexedAnswers, LabelIndex
    from driftline.serve_apps.request_ids import new_request_id

    index, rng = LabelIndex(folder), random.Random(0)
    picks = set(rng.sample(range(n), sample))
    chosen: list[str] = []
    span, chunk = (WINDOW_HOURS - 1) * 3600.0, 200_000
    for start in range(0, n, chunk):
        rows = []
        for i in range(start, min(n, start + chunk)):
            born = now - span + span * i / n
            rid = new_request_id(born)
            if i in picks:
                chosen.append(rid)
            rows.append(IndexedAnswers(rid, "served", 0, born, "m", "champion", "1", [i % 2]))
        index.add_answers(rows, None, 0.0)
    index.close()
    rng.shuffle(chosen)
    return chosen


# ---------------------------------------------------------------------------------------------- one child
def _writer_class(kind: str) -> Any:
    if kind == "index":
        from driftline.serve_apps.log_writer import LogWriter

        return LogWriter
    source = subprocess.run(
        ["git", "show", f"{BASELINE}:driftline/serve_apps/log_writer.py"], capture_output=True, text=True, check=True
    ).stdout
    path = Path(tempfile.mkdtemp()) / "baseline_log_writer.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("baseline_log_writer", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.LogWriter


def _child(args: argparse.Namespace) -> None:
    """Open a writer on ``--root``, label ``--ids`` (single calls, then batches of 1,000); print JSON."""
    ids = json.loads(Path(args.ids).read_text())
    rss_before = _rss_mb()
    started = time.perf_counter()
    writer = _writer_class(args.child)(args.root, window_hours=WINDOW_HOURS)
    restart_s = time.perf_counter() - started
    rss_open = _rss_mb()
    now = time.time()
    singles, batched = ids[: args.singles], ids[args.singles :]
    statuses: dict[str, int] = {}
    started = time.perf_counter()
    for rid in singles:
        status = writer.feedback([{"request_id": rid, "row": 0, "label": 1}], now)[0]["status"]
        statuses[status] = statuses.get(status, 0) + 1
    single_s = time.perf_counter() - started
    started = time.perf_counter()
    for start in range(0, len(batched), 1000):
        items = [{"request_id": rid, "row": 0, "label": 1} for rid in batched[start : start + 1000]]
        for outcome in writer.feedback(items, now):
            statuses[outcome["status"]] = statuses.get(outcome["status"], 0) + 1
    batch_s = time.perf_counter() - started
    print(
        json.dumps(
            {
                "restart_s": restart_s,
                "single_per_s": len(singles) / single_s,
                "batch_per_s": len(batched) / batch_s,
                "rss_start_mb": rss_before,
                "rss_open_mb": rss_open,
                "rss_end_mb": _rss_mb(),
                "peak_mb": _peak_mb(),
                "statuses": statuses,
            }
        )
    )
    os._exit(0)  # no graceful flush: it is not what is measured


def _run(kind: str, root: Path, ids: list[str]) -> dict[str, Any]:
    id_file = root.parent / f"ids-{kind}.json"
    id_file.write_text(json.dumps(ids))
    command = [sys.executable, __file__, "--child", kind, "--root", str(root), "--ids", str(id_file)]
    command += ["--singles", str(min(2_000, len(ids) // 4))]
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": "."})
    if done.returncode != 0:
        raise SystemExit(f"child {kind} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["load"] = _load()
    return result


def _line(name: str, r: dict[str, Any], base: dict[str, Any] | None) -> str:
    ratio = ""
    if base is not None:
        ratio = (
            f"  | vs baseline: single {r['single_per_s'] / base['single_per_s']:.2f}x, "
            f"batch {r['batch_per_s'] / base['batch_per_s']:.2f}x, restart {r['restart_s'] / base['restart_s']:.2f}x"
        )
    return (
        f"{name:<34} restart {r['restart_s']:7.2f} s | labels/s single {r['single_per_s']:8.0f}, "
        f"batch {r['batch_per_s']:9.0f} | RSS open {r['rss_open_mb']:5.0f} MB, end {r['rss_end_mb']:5.0f} MB, "
        f"peak {r['peak_mb']:5.0f} MB | {r['statuses']} | {r['load']}{ratio}"
    )


def _one_million(root: Path, size: int, now: float, labels: int) -> None:
    """The real log: the baseline on a copy of it, then the index writer rebuilding, then restarting with it."""
    from driftline.serve_apps.request_ids import issued_at

    started = time.perf_counter()
    ids = _write_log(root, size, now, 2 * labels)
    print(f"\n{size:,} predictions: wrote the Parquet log in {time.perf_counter() - started:.1f} s")
    oldest_held = _spread(size, now)[-min(size, 500_000)]  # the baseline's in-memory index held the newest 500k
    held = [rid for rid in ids if (issued_at(rid) or 0.0) >= oldest_held - 0.001][:labels]
    copy = root.parent / "baseline-logs"
    shutil.copytree(root, copy)
    base = _run("baseline", copy, held)
    print(_line("baseline (in memory, newest 500k)", base, None))
    rebuilt = _run("index", root, ids[:labels])  # no index yet: built from the window's log
    print(_line("index: restart rebuilds it from log", rebuilt, base))
    reopened = _run("index", root, ids[labels:])  # with its index: nothing to re-read
    print(_line("index: restart with its index", reopened, base))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000,10000000,30000000")
    parser.add_argument("--labels", type=int, default=20_000)
    parser.add_argument("--workdir", default=None, help="where the logs and indexes go (default: a temp folder)")
    parser.add_argument("--child", choices=["index", "baseline"], default=None)
    parser.add_argument("--root", default=None)
    parser.add_argument("--ids", default=None)
    parser.add_argument("--singles", type=int, default=2_000)
    args = parser.parse_args()
    if args.child:
        _child(args)
        return
    work = Path(args.workdir or tempfile.mkdtemp(prefix="label-window-"))
    now = time.time()
    print(f"label_window: {os.cpu_count()} cores, {_load()}, work folder {work}")
    try:
        for size in (int(s) for s in args.sizes.split(",")):
            root = work / f"n{size}" / "logs"
            root.mkdir(parents=True, exist_ok=True)
            if size <= 1_000_000:
                _one_million(root, size, now, args.labels)
            else:
                started = time.perf_counter()
                ids = _build_index(root / "label_index", size, now, args.labels)
                print(f"\n{size:,} predictions: built the index in {time.perf_counter() - started:.1f} s")
                print(_line(f"index at {size / 1e6:g}M", _run("index", root, ids), None))
            size_mb = sum(p.stat().st_size for p in (root / "label_index").iterdir()) / 1e6
            print(f"{'index on disk':<34} {size_mb:.0f} MB ({size_mb * 1e6 / size:.0f} bytes per prediction)")
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
