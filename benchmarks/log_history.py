"""Restart and drift-window cost against the length of the log history: 1 day vs 30 days of hourly partitions.

What a restart or a window reads must grow with the window it needs, not with the history on disk (DESIGN.md 4).
Measured here: the log writer's start (it rebuilds its feedback index from the last ``feedback_window_hours``) and
a 10-minute drift window over the prediction log (memory engine), alone and with its labels joined from the
feedback log (``open_feedback``: only the feedback hours from the window's start are read), each on a log
holding 1 day and 30 days of hourly partitions. Target: 30 days within 1.2x of 1 day. The baseline is the same
work on the 1-day history, measured in the same run.

    .venv/bin/python benchmarks/log_history.py [--files-per-hour 4] [--rows-per-file 200] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd

from driftline.datasets import SYNTHETIC_SCHEMA, generate_stream
from driftline.monitors.engine_memory import summarize_parquet
from driftline.monitors.feedback_join import open_feedback
from driftline.monitors.profile import build_reference_profile
from driftline.serve_apps.log_writer import LogWriter
from driftline.serve_apps.prediction_log import FEEDBACK, PREDICTIONS, ParquetSink


def _history(root: Path, days: int, files_per_hour: int, rows_per_file: int, now: float) -> None:
    frame, _ = generate_stream("stationary", n_rows=rows_per_file, seed=1)
    features = frame[list(SYNTHETIC_SCHEMA.feature_names)].to_dict("records")
    sink = ParquetSink(root)
    for hour in range(days * 24):
        start = now - (hour + 1) * 3600.0
        for f in range(files_per_hour):
            records = [
                {
                    "request_id": f"h{hour}-f{f}-{i}",
                    "row": 0,
                    "timestamp": start + (f * rows_per_file + i) * 3600.0 / (files_per_hour * rows_per_file),
                    "role": "served",
                    "variant": "champion",
                    "model_version": "1",
                    **features[i],
                    "prediction": int(i % 2),
                }
                for i in range(rows_per_file)
            ]
            sink.write(PREDICTIONS, records)
            sink.write(
                FEEDBACK,
                [
                    {"request_id": r["request_id"], "row": 0, "timestamp": r["timestamp"], "label": 1}
                    for r in records[::4]
                ],
            )


def _time(fn, repeats: int) -> tuple[float, float]:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), max(times) - min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files-per-hour", type=int, default=4)
    parser.add_argument("--rows-per-file", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    now = float(int(time.time() // 3600 * 3600))
    reference, _ = generate_stream("stationary", n_rows=5_000, seed=0)
    profile = build_reference_profile(reference, SYNTHETIC_SCHEMA)
    results: dict[int, dict[str, tuple[float, float]]] = {}
    since, until = pd.Timestamp(now - 1200, unit="s", tz="UTC"), pd.Timestamp(now - 600, unit="s", tz="UTC")
    with tempfile.TemporaryDirectory() as tmp:
        for days in (1, 30):
            root = Path(tmp) / f"days{days}"
            _history(root, days, args.files_per_hour, args.rows_per_file, now)
            n_files = len(ParquetSink(root).files(PREDICTIONS))
            restart = _time(lambda root=root: LogWriter(str(root), window_hours=24)._stop.set(), args.repeats)
            window = _time(
                lambda root=root: summarize_parquet(root / PREDICTIONS, profile, since=since, until=until),
                args.repeats,
            )
            labelled = _time(
                lambda root=root: summarize_parquet(
                    root / PREDICTIONS,
                    profile,
                    since=since,
                    until=until,
                    feedback=open_feedback(root / FEEDBACK, since),
                ),
                args.repeats,
            )
            results[days] = {"restart": restart, "window": window, "labelled window": labelled}
            print(
                f"{days:>2} day(s) of history ({n_files} prediction files): restart {restart[0] * 1000:.0f} ms "
                f"(spread {restart[1] * 1000:.0f}), 10-minute window {window[0] * 1000:.0f} ms "
                f"(spread {window[1] * 1000:.0f}), with its labels joined {labelled[0] * 1000:.0f} ms "
                f"(spread {labelled[1] * 1000:.0f})  load {os.getloadavg()[0]:.2f}"
            )
    for what in ("restart", "window", "labelled window"):
        ratio = results[30][what][0] / results[1][what][0]
        verdict = "met" if ratio <= 1.2 else "MISSED"
        print(f"{what}: 30 days / 1 day = {ratio:.2f}x (target <= 1.2x: {verdict})  load {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
