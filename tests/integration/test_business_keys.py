"""Business keys on real Ray Serve and MLflow: predictions carry an ``order_id``, labels arrive later in a Parquet
table keyed by it (``driftline labels import``), and the drift report's accuracy is the truth computed by hand.

The model is a registered MLP whose table schema names ``order_id`` as its business key. Its labels table has one
unknown id, one duplicate, one conflicting label and one label older than its prediction; a re-sent id is a new
prediction, and a label joins the latest prediction at or before its time (both orders tested). A labeller token
labels but cannot start a rollout. An import SIGKILLed half-way and run again leaves every label exactly once.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import replace

import httpx
import pandas as pd
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from driftline.core.config import REPO_ROOT
from driftline.datasets import load_stream
from driftline.model.bundle import ModelBundle
from driftline.model.preprocess import TabularPreprocessor
from driftline.model.registry import CHAMPION, ModelRegistry
from driftline.monitors.drift_job import run_drift_job
from tests.integration.test_rollout_serving import AUTH, module_config

pytestmark = pytest.mark.integration

LABELLER = "labeller-secret"
MODEL = "keyed-orders"


@pytest.fixture(scope="module")
def kcfg(cfg, champion):
    return module_config(cfg, "business-keys", **{"mlflow.model_name": MODEL, "serve.labeller_token": LABELLER})


@pytest.fixture(scope="module")
def stream(kcfg) -> pd.DataFrame:
    return load_stream(kcfg.data)[0]


@pytest.fixture(scope="module")
def keyed_url(kcfg, stream, serve_port):
    """An MLP whose schema has the business key ``order_id``, registered as champion and served."""
    from ray import serve

    from driftline.serve_apps.app import build_app

    _, schema = load_stream(kcfg.data)
    keyed = replace(schema, id_column="order_id")
    bundle = ModelBundle.create(TabularPreprocessor.fit(stream.iloc[:2000], keyed), (8,), seed=3)
    registry = ModelRegistry(kcfg)
    source = ModelRegistry(kcfg.with_overrides(**{"mlflow.model_name": "driftline-model"}))
    profile = source.load_profile_json(f"models:/driftline-model@{CHAMPION}")
    example = stream.iloc[:20][list(schema.feature_names)]
    version = registry.register(
        bundle, profile_json=profile, example=example, metrics={}, params={}, tags={}, run_name="keyed"
    )
    registry.set_alias(CHAMPION, version.version)
    serve.run(build_app(kcfg), name="keys", route_prefix="/keys")
    yield f"http://127.0.0.1:{serve_port}/keys"
    serve.delete("keys")


def _rows(stream: pd.DataFrame, start: int, count: int, prefix: str = "o") -> list[dict]:
    features = [c for c in stream.columns if c not in ("y", "timestamp")]
    rows = stream.iloc[start : start + count][features].to_dict("records")
    return [{**row, "order_id": f"{prefix}-{start + i}"} for i, row in enumerate(rows)]


def _predict(url: str, rows: list[dict]) -> dict:
    answer = httpx.post(f"{url}/predict", json={"instances": rows}, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_labels_by_business_key_join_the_right_predictions_and_the_report_is_the_truth(
    keyed_url, kcfg, stream, tmp_path, monkeypatch
) -> None:
    answer = _predict(keyed_url, _rows(stream, 0, 1))
    assert answer["ids"] == ["o-0"]
    refused = httpx.post(f"{keyed_url}/predict", json={"instances": [{**_rows(stream, 0, 1)[0], "order_id": None}]})
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "missing_id"
    for start in range(1, 40, 10):  # o-1 .. o-39, ten a request
        assert _predict(keyed_url, _rows(stream, start, 10))["ids"][0] == f"o-{start}"
    between = time.time()
    time.sleep(0.05)
    again = _predict(keyed_url, _rows(stream, 5, 1))  # o-5 predicted again: a new prediction of the same entity
    truth = dict(zip(stream.index[:40].map(lambda i: f"o-{i}"), stream["y"].iloc[:40], strict=True))
    labels = [{"order_id": f"o-{i}", "y": int(truth[f"o-{i}"]), "at": time.time()} for i in range(1, 31)]
    labels += [
        {"order_id": "o-999", "y": 1, "at": time.time()},  # never predicted
        {"order_id": "o-2", "y": int(truth["o-2"]), "at": time.time()},  # the same label again
        {"order_id": "o-3", "y": 1 - int(truth["o-3"]), "at": time.time()},  # another label for a labelled row
        {"order_id": "o-31", "y": int(truth["o-31"]), "at": 1_000_000.0},  # before its prediction was made
    ]
    table = tmp_path / "labels.parquet"
    pd.DataFrame(labels).to_parquet(table)
    monkeypatch.setenv("DRIFTLINE_LABELLER_TOKEN", LABELLER)
    from driftline.platform.cli import app

    args = ["labels", "import", "--data", str(table), "--id", "order_id", "--label", "y", "--time", "at"]
    result = CliRunner().invoke(app, [*args, "--url", keyed_url, "--batch-size", "7"])
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "joined 30, duplicate 1, conflict 1, unknown_id 2, expired 0, bad_value 0" in said, said
    rerun = CliRunner().invoke(app, [*args, "--url", keyed_url])
    said = " ".join(rerun.output.split())
    assert "joined 0, duplicate 31, conflict 1, unknown_id 2" in said, said  # idempotent

    # Both orders: the import's label of o-5 (timed after its second prediction) joined the second; a label timed
    # between the two joins the first, unlabelled until now.
    first, second = [
        httpx.post(f"{keyed_url}/feedback", json={"id": "o-5", "label": 1, "time": at}, headers=AUTH).json()
        for at in (between, time.time())
    ]
    assert first["status"] == "accepted" and first["request_id"] != again["request_id"]
    assert second["status"] in ("duplicate", "conflict") and second["request_id"] == again["request_id"]

    # The drift report's accuracy is the truth by hand: each labelled id's latest prediction before its label.
    time.sleep(1.5)  # the writer flushes every 0.5 s
    logs = kcfg.workdir_path / "logs"
    report = run_drift_job(
        f"models:/{MODEL}@champion",
        str(logs / "predictions"),
        config=kcfg,
        feedback=str(logs / "feedback"),
        log_to_mlflow=False,
    )
    served = pq.read_table(logs / "predictions").to_pandas()
    served = served[served["role"] == "served"].sort_values("timestamp")
    feedback = pq.read_table(logs / "feedback").to_pandas()
    joined = feedback.merge(served, on=["request_id", "row"])
    assert len(joined) == len(feedback) == report["window"]["labelled_rows"]
    accuracy = float((joined["prediction"] == joined["label"]).mean())
    assert report["performance"]["current"] == pytest.approx(accuracy)
    o3 = joined[joined["entity_id"] == "o-3"]
    assert o3["label"].tolist() == [int(truth["o-3"])]  # the first label stands; the conflicting one was refused


def test_a_labeller_token_labels_but_cannot_touch_a_rollout(keyed_url) -> None:
    labeller = {"Authorization": f"Bearer {LABELLER}"}
    started = httpx.post(f"{keyed_url}/rollout", json={"mode": "canary", "candidate_version": "1"}, headers=labeller)
    assert started.status_code == 403 and started.json()["error"]["code"] == "forbidden"
    assert httpx.post(f"{keyed_url}/rollout/abort", headers=labeller).status_code == 403
    unknown = httpx.post(f"{keyed_url}/feedback", json={"id": "o-424242", "label": 1}, headers=labeller)
    assert unknown.status_code == 404 and unknown.json()["status"] == "unknown_id"
    anonymous = httpx.post(f"{keyed_url}/feedback", json={"id": "o-1", "label": 1})
    assert anonymous.status_code == 403 and anonymous.json()["status"] == "bad_token"  # ids are guessable


def test_an_import_killed_half_way_and_run_again_leaves_every_label_once(keyed_url, kcfg, stream, tmp_path) -> None:
    count = 3_000
    for start in range(0, count, 50):  # the module's serve.max_batch_rows
        _predict(keyed_url, _rows(stream, start, 50, prefix="k"))
    labels = pd.DataFrame({"order_id": [f"k-{i}" for i in range(count)], "y": stream["y"].iloc[:count].astype(int)})
    table = tmp_path / "many.parquet"
    labels.to_parquet(table)
    command = [sys.executable, "-m", "driftline", "labels", "import", "--data", str(table), "--id", "order_id"]
    command += ["--label", "y", "--url", keyed_url, "--batch-size", "50"]
    env = {**os.environ, "DRIFTLINE_LABELLER_TOKEN": LABELLER}
    before = _feedback_rows(kcfg)
    killed = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while _feedback_rows(kcfg) - before < 200:  # some labels landed (and were flushed): kill it mid-import
        assert time.monotonic() < deadline and killed.poll() is None, "the import ended before it could be killed"
        time.sleep(0.05)
    killed.send_signal(signal.SIGKILL)
    killed.wait(timeout=30)
    done = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
    said = done.stdout + done.stderr
    assert done.returncode == 0, said
    joined, duplicate = (
        int(re.search(rf"{name} ([\d,]+)", said)[1].replace(",", "")) for name in ("joined", "duplicate")
    )
    assert joined + duplicate == count and 200 <= duplicate < count, said  # what landed before the kill: duplicates
    time.sleep(1.5)  # the writer flushes every 0.5 s
    feedback = pq.read_table(kcfg.workdir_path / "logs" / "feedback").to_pandas()
    served = pq.read_table(kcfg.workdir_path / "logs" / "predictions").to_pandas()
    ours = feedback.merge(served[served["role"] == "served"], on=["request_id", "row"])
    ours = ours[ours["entity_id"].str.startswith("k-")]
    assert len(ours) == count and ours["entity_id"].is_unique  # every label once: none lost, none twice


def _feedback_rows(kcfg) -> int:
    """Rows in the app's Parquet feedback log (files are written whole, by rename)."""
    folder = kcfg.workdir_path / "logs" / "feedback"
    return sum(pq.ParquetFile(f).metadata.num_rows for f in folder.rglob("part-*.parquet")) if folder.exists() else 0
