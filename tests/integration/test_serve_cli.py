"""`driftline serve` as a user runs it: a real process, stopped with SIGTERM, leaves no process behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

pytestmark = pytest.mark.integration


def _session_processes(sid: int) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if os.getsid(proc.pid) == sid:
                found.append(proc)
        except (ProcessLookupError, PermissionError, psutil.NoSuchProcess):
            continue
    return found


def test_sigterm_stops_serve_and_every_process_it_started(cfg, champion, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}  # its own local Ray, as a user's would be
    env["DRIFTLINE_MLFLOW_TRACKING_URI"] = cfg.tracking_uri  # the session's registry, with its champion
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "driftline", "serve", "--workdir", str(tmp_path / "wd"), "--port", "0"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,  # its own session: every process it starts is findable by session id
        text=True,
    )
    try:
        deadline = time.monotonic() + 300
        url = None
        while url is None and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(1.0)
            for line in (tmp_path / "serve.log").read_text().splitlines():
                if "serving" in line and "http://" in line:
                    url = line.split("http://", 1)[1].split("/predict")[0]
        assert url is not None, (tmp_path / "serve.log").read_text()[-3000:]
        assert httpx.get(f"http://{url}/healthz", timeout=30).json()["status"] == "ok"
        assert len(_session_processes(proc.pid)) > 1  # Ray's processes run in the server's session
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=120) == 0, (tmp_path / "serve.log").read_text()[-3000:]
        deadline = time.monotonic() + 30
        while _session_processes(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.5)
        left = [(p.pid, " ".join(p.cmdline())[:120]) for p in _session_processes(proc.pid)]
        assert left == [], f"processes left after SIGTERM: {left}"
    finally:
        for p in _session_processes(proc.pid):
            p.kill()
        proc.kill()
        log.close()
