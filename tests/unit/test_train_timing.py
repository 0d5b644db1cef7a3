"""Where a retrain's seconds go: the phase split of a Ray Train fit, worker right-sizing, the poll interval."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from driftline.train_jobs.batches import EncodedWindow
from driftline.train_jobs.ray_executor import _fit_phases
from driftline.train_jobs.ray_settings import controller_polling, workers_for


def test_fit_phases_line_up_rank0_marks_with_the_driver(tmp_path: Path) -> None:
    marks = {"entered_at": 110.0, "window_read": 0.5, "checkpoint": 1.5, "finished_at": 120.0}
    (tmp_path / "w.json").write_text(json.dumps(marks))
    phases = _fit_phases(tmp_path / "w.json", fit_started=100.0, fit_ended=121.0)
    assert phases == {
        "worker_start": 10.0,
        "window_read": 0.5,
        "epochs": 8.0,
        "checkpoint": 1.5,
        "fit_teardown": 1.0,
    }
    assert sum(phases.values()) == pytest.approx(21.0)  # nothing of fit() is lost or counted twice


def test_without_rank0_marks_fit_is_one_phase(tmp_path: Path) -> None:
    assert _fit_phases(tmp_path / "missing.json", 100.0, 103.0) == {"fit": 3.0}


def test_small_windows_train_on_fewer_workers() -> None:
    assert workers_for(rows=4_000, requested=2, min_rows_per_worker=20_000) == 1
    assert workers_for(rows=45_000, requested=2, min_rows_per_worker=20_000) == 2
    assert workers_for(rows=10**7, requested=3, min_rows_per_worker=1) == 3


def test_controller_polling_is_scoped_and_yields_to_the_user(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RAY_TRAIN_HEALTH_CHECK_INTERVAL_S", raising=False)
    with controller_polling(0.1):
        assert os.environ["RAY_TRAIN_HEALTH_CHECK_INTERVAL_S"] == "0.1"
    assert "RAY_TRAIN_HEALTH_CHECK_INTERVAL_S" not in os.environ
    monkeypatch.setenv("RAY_TRAIN_HEALTH_CHECK_INTERVAL_S", "3")
    with controller_polling(0.1):
        assert os.environ["RAY_TRAIN_HEALTH_CHECK_INTERVAL_S"] == "3"


def test_shards_cover_every_row_once_and_batches_are_seeded() -> None:
    window = EncodedWindow(np.arange(20, dtype=np.float32).reshape(10, 2), np.arange(10))
    shards = [window.shard(rank, 3) for rank in range(3)]
    assert sorted(np.concatenate([s.labels for s in shards]).tolist()) == list(range(10))
    first = [y.tolist() for _, y in window.batches(epoch=1, batch_size=4, seed=2)]
    again = [y.tolist() for _, y in window.batches(epoch=1, batch_size=4, seed=2)]
    other = [y.tolist() for _, y in window.batches(epoch=2, batch_size=4, seed=2)]
    assert first == again != other
