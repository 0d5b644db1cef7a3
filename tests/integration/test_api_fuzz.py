"""A real fuzzer (schemathesis) against the live app's own OpenAPI document: zero 5xx, zero schema violations.

The document is the one the router serves at ``/openapi.json``, made strict from the served model's table schema
(``driftline/serve_apps/openapi.py``): every generated valid body is a real prediction, feedback or rollout request,
and every generated invalid one must be refused with a documented 4xx. The admin token is sent, so the fuzzer
reaches past authentication into validation and the rollout controller. Bounded by a seed, a number of examples
per operation and a time budget (about 40 s).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.integration import test_rollout_serving as serving
from tests.integration.test_rollout_serving import TOKEN

app_url = serving.app_url  # the same app fixture, built from this module's own work folder

pytestmark = [pytest.mark.integration, pytest.mark.slow]
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
]


@pytest.fixture(scope="module", params=["inline", "remote"])
def rcfg(cfg, champion, request):
    """Both placements: the same document, the same answers."""
    rcfg = serving.module_config(cfg, f"api-fuzz-{request.param}", **{"serve.placement": request.param})
    yield rcfg
    serving.give_back_the_champion(rcfg, champion)  # a fuzzed promotion may have moved the alias


def test_the_live_openapi_document_is_strict(app_url) -> None:
    doc = httpx.get(f"{app_url}/openapi.json").json()
    row = doc["components"]["schemas"]["Row"]
    assert row["required"] == ["x0", "x1", "x2", "x3", "x4", "region"]  # the served model's features
    assert row["properties"]["x0"]["type"] == ["number", "null"]  # null: a missing value, imputed
    assert row["properties"]["region"]["type"] == ["string", "integer", "boolean", "null"]
    assert doc["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/PredictRequest"
    }
    assert httpx.get(f"{app_url}/docs").status_code == 200


def test_a_fuzzer_finds_no_server_error_and_no_schema_violation(app_url, tmp_path: Path) -> None:
    fuzzer = Path(sys.executable).with_name("schemathesis")
    command = [
        str(fuzzer),
        "--config-file",
        str(Path(__file__).with_name("schemathesis.toml")),
        "run",
        f"{app_url}/openapi.json",
        "--url",
        app_url,
        "--checks",
        ",".join(CHECKS),
        "--header",
        f"Authorization: Bearer {TOKEN}",
        "--seed",
        "20261204",
        "--max-examples",
        "25",
        "--max-time",
        "40",
        "--workers",
        "1",  # hypothesis's lambda descriptions hit a CPython 3.11 ast race with two threads
        "--request-timeout",
        "20",
        "--report",
        "junit",
        "--report-dir",
        str(tmp_path),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    print(done.stdout[-6000:])
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert "passed" in done.stdout.lower()
