"""A Ray Train callback that timestamps the controller's and the worker group's lifecycle, for the benchmark only.

Enabled through Ray Train's ``RAY_TRAIN_CALLBACKS`` environment variable (import path of this class), so product
code does not depend on Ray Train's developer callback API. It runs inside the Train controller and appends
``{"event": ..., "at": wall time}`` lines to ``<storage>/<run>/_markers/controller_events.jsonl``. It is listed
before Ray Train's own callbacks, so ``after_worker_group_start`` fires before the torch process group and the
dataset split are set up, and ``after_worker_group_training_start`` after them.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from ray.train.v2._internal.execution.callback import ControllerCallback, WorkerGroupCallback

EVENTS_FILE = "controller_events.jsonl"


class TimingCallback(ControllerCallback, WorkerGroupCallback):
    """Appends one timestamp per lifecycle event of a Train run."""

    def __init__(self) -> None:
        self._file: Path | None = None

    def _mark(self, event: str) -> None:
        if self._file is not None:
            with self._file.open("a") as out:
                out.write(json.dumps({"event": event, "at": time.time()}) + "\n")

    def after_controller_start(self, train_run_context: Any) -> None:
        rc = train_run_context.run_config
        self._file = Path(rc.storage_path) / rc.name / "_markers" / EVENTS_FILE
        self._file.parent.mkdir(parents=True, exist_ok=True)
        self._mark("controller_start")

    def before_worker_group_start(self, worker_group_context: Any) -> None:
        self._mark("worker_group_start")

    def after_worker_group_start(self, worker_group: Any) -> None:
        self._mark("worker_group_ready")

    def after_worker_group_training_start(self, worker_group: Any) -> None:
        self._mark("training_start")

    def before_worker_group_shutdown(self, worker_group: Any) -> None:
        self._mark("worker_group_shutdown")

    def after_worker_group_shutdown(self, worker_group_context: Any) -> None:
        self._mark("worker_group_stopped")

    def after_controller_finish(self, result: Any) -> None:
        self._mark("controller_finish")


def read_events(run_dir: Path) -> dict[str, float]:
    """First wall time of each event of a run (a restarted worker group repeats events; keep the first)."""
    path = run_dir / "_markers" / EVENTS_FILE
    events: dict[str, float] = {}
    if path.is_file():
        for line in path.read_text().splitlines():
            record = json.loads(line)
            events.setdefault(record["event"], record["at"])
    return events
