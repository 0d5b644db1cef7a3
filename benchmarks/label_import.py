"""Labels imported by business key: time, labels per second and peak memory for N labels joined to N predictions,
and the cost of importing the same table again (every label a duplicate).

What runs is ``driftline labels import``'s own code (``platform/label_import.py``: the table streamed a batch at a
time) against the log writer's ``feedback`` (``serve_apps/log_writer.py``: each label resolved through the on-disk
label index to the latest prediction of its id, checked, journalled with an fsync, indexed), in one process with
the HTTP hop left out: the Serve app adds its router's parse and one local HTTP call per batch of 1,000. The
baseline, measured in the same run on the same index, is half of the labels sent by request id and row (the path
that needs no id lookup); the import then sends all of them by id (that half come back ``duplicate``). The index
and the tables are built in one child process and measured in a fresh one, so the peak RSS is the writer's and the
import's alone.

    PYTHONPATH=. .venv/bin/python benchmarks/label_import.py [--sizes 1000000,10000000] [--batch 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

WINDOW_HOURS = 48.0
MODEL = "m"


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.1f}/{five:.1f}/{fifteen:.1f}"


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _build(root: Path, n: int, now: float) -> list[tuple[str, str]]:
    """The label index of ``n`` single-row served predictions of ``MODEL``, order ``o-<i>``; returns (request id,
    order id) of each, in order."""
    from driftline.serve_apps.label_index import IndexedAnswers, LabelIndex
    from driftline.serve_apps.request_ids import new_request_id

    index = LabelIndex(root / "label_index")
    span, chunk, keys = (WINDOW_HOURS - 1) * 3600.0, 200_000, []
    for start in range(0, n, chunk):
        runs = []
        for i in range(start, min(n, start + chunk)):
            born = now - span + span * i / n
            rid = new_request_id(born)
            keys.append((rid, f"o-{i}"))
            runs.append(IndexedAnswers(rid, "served", 0, born, MODEL, "champion", "1", [i % 2], [f"o-{i}"]))
        index.add_answers(runs, None, 0.0)
    index.close()
    return keys


class _WriterSink:
    """The import's sink, calling the writer directly (the router adds the model name to each item)."""

    def __init__(self, writer: Any) -> None:
        self.writer = writer

    def send(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return list(self.writer.feedback([{**item, "model": MODEL} for item in items], time.time()))


def _prepare(args: argparse.Namespace) -> None:
    """First child: the index, the label table by order id and the same labels by request id (for the baseline)."""
    root, n = Path(args.root), args.size
    started = time.perf_counter()
    keys = _build(root, n, time.time())
    order = list(range(n))
    random.Random(0).shuffle(order)  # labels arrive in any order: random across the whole window
    pq.write_table(
        pa.table({"order_id": [keys[i][1] for i in order], "y": [i % 2 for i in order]}), root / "labels.parquet"
    )
    half = order[: n // 2]  # the baseline labels half by request id; the import then meets those as duplicates
    pq.write_table(
        pa.table({"request_id": [keys[i][0] for i in half], "y": [i % 2 for i in half]}), root / "by_request.parquet"
    )
    print(json.dumps({"build_s": time.perf_counter() - started}))


def _measure(args: argparse.Namespace) -> None:
    """Second child, fresh: the writer on that index; the baseline by request id, the import, the re-import."""
    from driftline.datasets.table import iter_batches
    from driftline.platform.label_import import import_labels
    from driftline.serve_apps.log_writer import LogWriter

    root = Path(args.root)
    writer = LogWriter(str(root), flush_seconds=2.0, window_hours=WINDOW_HOURS)  # the app's default flush
    result: dict[str, Any] = {"start_mb": _peak_mb()}
    started, done = time.perf_counter(), 0
    for _, batch in iter_batches(str(root / "by_request.parquet"), ["request_id", "y"], args.batch):
        items = [
            {"request_id": rid, "row": 0, "label": y, "model": MODEL}
            for rid, y in zip(batch.column(0).to_pylist(), batch.column(1).to_pylist(), strict=True)
        ]
        writer.feedback(items, time.time())
        done += len(items)
    result["baseline_s"], result["baseline_n"] = time.perf_counter() - started, done
    sink = _WriterSink(writer)
    report = import_labels(str(root / "labels.parquet"), "order_id", "y", sink, batch_size=args.batch)
    result["import_s"], result["import_counts"] = report.seconds, dict(report.counts)
    again = import_labels(str(root / "labels.parquet"), "order_id", "y", sink, batch_size=args.batch)
    result["reimport_s"], result["reimport_counts"] = again.seconds, dict(again.counts)
    writer.close()
    result["peak_mb"] = _peak_mb()
    print(json.dumps(result))


def _run(size: int, batch: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="dl-label-import-") as root:
        result: dict[str, Any] = {}
        load_before = _load()
        for step in ("--prepare", "--measure"):
            command = [sys.executable, __file__, step, "--root", root, "--size", str(size), "--batch", str(batch)]
            done = subprocess.run(command, capture_output=True, text=True, check=True)
            result.update(json.loads(done.stdout.strip().splitlines()[-1]))
        result["load"] = f"{load_before} -> {_load()}"
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000000", help="predictions (and labels) per run, comma-separated")
    parser.add_argument("--batch", type=int, default=1_000, help="labels per feedback call")
    parser.add_argument("--prepare", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--root", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.prepare or args.measure:
        (_prepare if args.prepare else _measure)(args)
        return
    print(
        "| predictions = labels | by request id (baseline), labels/s | by business key (import), labels/s | ratio "
        "| re-import, labels/s | writer + import RSS MB (open / peak) | index built in s | load 1/5/15 |"
    )
    print("|---:|---:|---:|---:|---:|---|---:|---|")
    for size in (int(s) for s in args.sizes.split(",")):
        r = _run(size, args.batch)
        base = r["baseline_n"] / r["baseline_s"]
        imported = sum(r["import_counts"].values()) / r["import_s"]
        again = sum(r["reimport_counts"].values()) / r["reimport_s"]
        print(
            f"| {size:,} | {base:,.0f} | {imported:,.0f} | {imported / base:.2f}x | {again:,.0f} "
            f"| {r['start_mb']:,.0f} / {r['peak_mb']:,.0f} | {r['build_s']:.0f} | {r['load']} |"
        )
        print(f"  import: {r['import_counts']}; re-import: {r['reimport_counts']}", flush=True)


if __name__ == "__main__":
    main()
