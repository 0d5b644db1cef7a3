"""Every prediction inside the label window can be labelled, on real Serve over HTTP.

One prediction, then 2,000,000 newer rows in batch requests, then its signed label: accepted once (the writer used to
keep only the newest 500,000 predictions in memory and answer 404), its duplicate answers ``duplicate`` before and
after a SIGKILL of the writer's process, and it is in the next drift report. The writer's memory stays within its
bound during the load and after the restart. On an application whose window is one minute, a label sent after the
minute answers 410 ``expired`` and a fresh prediction is still labelled.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from driftline.core.paths import feedback_dir, predictions_dir
from driftline.datasets import load_stream
from driftline.model.registry import alias_uri
from driftline.monitors.drift_job import run_drift_job
from tests.integration.replicas import live_replica, wait_replaced

pytestmark = pytest.mark.integration

APP, SHORT_APP = "label_window", "label_window_1min"
NEWER_ROWS, BATCH_ROWS, CLIENTS = 2_000_000, 10_000, 2
# The writer's bound: its buffers (a flush is at most log_flush_rows plus one request's rows) and the index's page
# cache (16 MB), above what it held before the load. The old in-memory index grew ~40 MB per 50k requests.
RSS_GROWTH_BOUND_MB = 200


def _memory_mb(pid: int, field: str = "RssAnon") -> float:
    """The process's private memory (``RssAnon``): its RSS less the pages of Ray's shared-memory object store it
    mapped while reading large arguments (``RssShmem``, shared with the store, not the writer's own)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no {field} for pid {pid}")


def _memory(pid: int) -> str:
    return ", ".join(f"{f} {_memory_mb(pid, f):.0f} MB" for f in ("VmRSS", "RssAnon", "RssFile", "RssShmem"))


@pytest.fixture(scope="module")
def wcfg(cfg, champion):
    return cfg.with_overrides(
        **{
            "workdir": str(cfg.workdir_path / "label-window-tests"),
            "mlflow.tracking_uri": cfg.tracking_uri,
            "serve.max_batch_rows": BATCH_ROWS,
            "serve.max_body_bytes": 16 * 1024 * 1024,
            "serve.request_timeout_seconds": 60.0,
        }
    )


@pytest.fixture(scope="module")
def rows(wcfg) -> list[dict[str, Any]]:
    stream, schema = load_stream(wcfg.data)
    return stream.iloc[2000 : 2000 + BATCH_ROWS][list(schema.feature_names)].to_dict("records")


@pytest.fixture(scope="module")
def urls(wcfg, serve_port) -> Iterator[tuple[str, str]]:
    from ray import serve

    from driftline.serve_apps.app import build_app

    short = wcfg.with_overrides(
        **{"workdir": str(wcfg.workdir_path / "one-minute"), "serve.feedback_window_hours": 1 / 60}
    )
    serve.run(build_app(wcfg), name=APP, route_prefix="/lw")
    serve.run(build_app(short), name=SHORT_APP, route_prefix="/lw1")
    yield f"http://127.0.0.1:{serve_port}/lw", f"http://127.0.0.1:{serve_port}/lw1"
    serve.delete(APP)
    serve.delete(SHORT_APP)


def _predict(client: httpx.Client, url: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    answer = client.post(f"{url}/predict", json={"instances": rows})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _label(client: httpx.Client, url: str, body: dict[str, Any], label: Any) -> httpx.Response:
    item = {"request_id": body["request_id"], "row": 0, "label": label, "token": body["feedback_tokens"][0]}
    return client.post(f"{url}/feedback", json=item)


def _bulk(url: str, rows: list[dict[str, Any]], total: int, pid: int) -> float:
    """Send ``total`` rows in batch requests from ``CLIENTS`` threads; returns the writer's peak RSS meanwhile."""
    body = json.dumps({"instances": rows}).encode()
    requests = total // len(rows)
    sent, lock, peak, failures = [0], threading.Lock(), [0.0], []

    def client() -> None:
        with httpx.Client(timeout=120) as http:
            while True:
                with lock:
                    if sent[0] >= requests:
                        return
                    sent[0] += 1
                    if sent[0] % 20 == 0:
                        peak[0] = max(peak[0], _memory_mb(pid))
                answer = http.post(f"{url}/predict", content=body, headers={"content-type": "application/json"})
                if answer.status_code != 200:
                    failures.append(answer.text[:200])

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures[:3]
    return max(peak[0], _memory_mb(pid))


def test_a_label_after_two_million_newer_rows_is_accepted_once_and_reported(wcfg, urls, rows) -> None:
    url, short_url = urls
    with httpx.Client(timeout=60) as client:
        soon_expired = _predict(client, short_url, rows[:1])  # the one-minute window starts now
        first_at = time.time()
        first = _predict(client, url, rows[:1])
        time.sleep(1.5)  # the drift window below holds the first prediction alone
        _, pid = live_replica(APP, "log_writer") or pytest.fail("no log writer replica")
        before = _memory_mb(pid)
        started = time.monotonic()
        peak = _bulk(url, rows, NEWER_ROWS, pid)
        load_s = time.monotonic() - started

        accepted = _label(client, url, first, first["predictions"][0])
        assert accepted.status_code == 200 and accepted.json()["status"] == "accepted", accepted.text
        again = _label(client, url, first, first["predictions"][0])
        assert again.status_code == 200 and again.json()["status"] == "duplicate"
        assert peak - before < RSS_GROWTH_BOUND_MB, (
            f"writer memory {before:.0f} -> {peak:.0f} MB over {NEWER_ROWS:,} rows ({load_s:.0f} s): {_memory(pid)}"
        )

        actor_id, pid = live_replica(APP, "log_writer") or pytest.fail("no log writer replica")
        os.kill(pid, signal.SIGKILL)  # no flush, no __del__: the restart reads the index and the journal
        wait_replaced(APP, "log_writer", actor_id)
        after_restart = _label(client, url, first, first["predictions"][0])
        assert after_restart.status_code == 200 and after_restart.json()["status"] == "duplicate"
        other = 1 - first["predictions"][0]  # the synthetic stream's classes are 0 and 1
        conflict = client.post(
            f"{url}/feedback",
            json={"request_id": first["request_id"], "row": 0, "label": other, "token": first["feedback_tokens"][0]},
        )
        assert conflict.status_code == 409
        _, new_pid = live_replica(APP, "log_writer") or pytest.fail("no log writer replica")
        restarted = _memory_mb(new_pid)
        print(f"writer private memory: {before:.0f} MB before, peak {peak:.0f} MB during {NEWER_ROWS:,} rows "
              f"({load_s:.0f} s), {restarted:.0f} MB after the restart")  # fmt: skip
        assert restarted - before < RSS_GROWTH_BOUND_MB, _memory(new_pid)

        wait = 61.0 - (time.time() - first_at)
        if wait > 0:
            time.sleep(wait)
        expired = _label(client, short_url, soon_expired, soon_expired["predictions"][0])
        assert expired.status_code == 410 and expired.json()["status"] == "expired", expired.text
        assert "feedback_window_hours" in expired.json()["message"]
        fresh = _predict(client, short_url, rows[:1])
        assert _label(client, short_url, fresh, fresh["predictions"][0]).json()["status"] == "accepted"

    report = run_drift_job(
        alias_uri(wcfg.mlflow.model_name),
        predictions_dir(wcfg.workdir_path),
        None,
        config=wcfg,
        feedback=feedback_dir(wcfg.workdir_path),
        since=pd.Timestamp(first_at - 1.0, unit="s", tz="UTC").to_pydatetime(),
        until=pd.Timestamp(first_at + 1.0, unit="s", tz="UTC").to_pydatetime(),
        log_to_mlflow=False,
    )
    assert report["window"]["rows"] == 1 and report["window"]["labelled_rows"] == 1
