"""The "Your own table" how-to (``docs/how-to/own-table.md``), line by line, on real Ray, MLflow and Serve: export a
table, init, train, drift, retrain, serve, roll out the candidate in shadow and promote it.

The commands are read from the page itself (between the walkthrough markers), so the docs cannot drift from what
works; the README's short example must be lines of that walkthrough. ``driftline serve`` is the one line run
differently: the app is deployed on this session's Serve proxy, and the rollout lines talk to it at its real URL.
"""

from __future__ import annotations

import shlex
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from driftline.core.config import REPO_ROOT
from driftline.core.config_loader import load_config
from driftline.model.registry import CHAMPION, ModelRegistry

pytestmark = pytest.mark.integration

DOCS_URL = "http://127.0.0.1:8000"
OWN_TABLE_PAGE = REPO_ROOT / "docs" / "how-to" / "own-table.md"


def _between(text: str, marker: str) -> list[str]:
    block = text.split(f"<!-- {marker}:start -->")[1].split(f"<!-- {marker}:end -->")[0]
    lines = [line.split("  #")[0].strip().rstrip("&").strip() for line in block.splitlines()]
    return [line for line in lines if line.startswith("driftline ")]


def walkthrough_commands() -> list[str]:
    return _between(OWN_TABLE_PAGE.read_text(), "walkthrough")


def test_the_readme_example_is_part_of_the_tested_walkthrough() -> None:
    example = _between((REPO_ROOT / "README.md").read_text(), "example")
    walkthrough = walkthrough_commands()
    assert len(example) >= 4, example
    assert [line for line in walkthrough if line in example] == example, (example, walkthrough)


def test_the_own_table_walkthrough_runs_from_export_to_a_promoted_candidate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ray_session: None, serve_port: int
) -> None:
    from ray import serve

    from driftline.platform.cli import app
    from driftline.serve_apps.app import build_app

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DRIFTLINE_ADMIN_TOKEN", "walkthrough-token")
    monkeypatch.delenv("DRIFTLINE_WORKDIR", raising=False)
    commands = walkthrough_commands()
    assert [c.split()[1] for c in commands] == [
        *("datasets", "datasets", "init", "train", "drift", "retrain", "serve", "rollout", "rollout"),
    ]
    url = f"http://127.0.0.1:{serve_port}/walk"
    runner = CliRunner()
    try:
        for command in commands:
            if command.startswith("driftline serve"):
                # The replicas run in this session's Ray, started before the token was set: hand it over in the config.
                served = load_config(overrides={"serve.admin_token": "walkthrough-token"})
                serve.run(build_app(served), name="walk", route_prefix="/walk")
                continue
            args = shlex.split(command.replace(DOCS_URL, url))[1:]
            result = runner.invoke(app, args)
            assert result.exit_code == 0, f"{command}\n{result.output}\n{result.exception!r}"
            if args[0] == "init":
                assert "y: string, 2 values -> label of a binary classifier (classes no, yes)" in result.output
        cfg = load_config()
        assert ModelRegistry(cfg).alias_version(CHAMPION) == "2"  # the retrained candidate was promoted
        status = httpx.get(f"{url}/rollout", timeout=30).json()
        assert status["rollout"]["phase"] == "PROMOTED", status
        answer = httpx.post(f"{url}/predict", json={"instances": [_row()]}, timeout=30)
        for _ in range(120):  # the promoted model may still be loading: a 503 that says retry, never a 500
            if answer.status_code != 503:
                break
            assert answer.headers["Retry-After"] == "1" and answer.json()["error"]["code"] == "model_unavailable"
            time.sleep(0.5)
            answer = httpx.post(f"{url}/predict", json={"instances": [_row()]}, timeout=30)
        assert answer.status_code == 200, answer.text
        assert answer.json()["predictions"][0] in ("no", "yes") and answer.headers["X-Model-Version"] == "2"
    finally:
        serve.delete("walk")


def _row() -> dict[str, object]:
    return {"x0": 0.5, "x1": -0.2, "x2": 1.0, "x3": 0.0, "x4": 0.3, "region": "a"}
