"""``driftline score`` on real Ray Data and MLflow: a 3-file Parquet folder with 1% bad rows and a shadow candidate;
then the labels of those rows imported by business key through the real Serve app (whose log writer takes in the
batch job's log files), a drift window over them and the labelled rows a retrain would learn from."""

from __future__ import annotations

import time
from dataclasses import replace

import httpx
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml
from typer.testing import CliRunner

from driftline.datasets import load_stream
from driftline.model.bundle import ModelBundle
from driftline.model.preprocess import TabularPreprocessor
from driftline.model.registry import CANDIDATE, CHAMPION, ModelRegistry
from driftline.monitors.drift_job import run_drift_job
from driftline.platform.loop_adapters import LogLabels
from tests.integration.test_rollout_serving import module_config

pytestmark = pytest.mark.integration

MODEL = "batch-orders"
LABELLER = "batch-labeller"
ROWS = 300


@pytest.fixture(scope="module")
def bcfg(cfg, champion):
    return module_config(
        cfg,
        "batch-score",
        **{"mlflow.model_name": MODEL, "serve.labeller_token": LABELLER, "serve.log_rescan_seconds": 0.5},
    )


@pytest.fixture(scope="module")
def versions(bcfg):
    """A champion and a candidate (another seed) whose schema has the business key ``order_id``."""
    stream, schema = load_stream(bcfg.data)
    keyed = replace(schema, id_column="order_id")
    source = ModelRegistry(bcfg.with_overrides(**{"mlflow.model_name": "driftline-model"}))
    profile = source.load_profile_json(f"models:/driftline-model@{CHAMPION}")
    registry, made = ModelRegistry(bcfg), {}
    for alias, seed in ((CHAMPION, 1), (CANDIDATE, 2)):
        bundle = ModelBundle.create(TabularPreprocessor.fit(stream.iloc[:2000], keyed), (8,), seed=seed)
        example = stream.iloc[:20][list(schema.feature_names)]
        version = registry.register(
            bundle, profile_json=profile, example=example, metrics={}, params={}, tags={}, run_name=f"batch-{alias}"
        )
        registry.set_alias(alias, version.version)
        made[alias] = version.version
    return made


def _table(bcfg) -> pd.DataFrame:
    stream, _ = load_stream(bcfg.data)
    frame = stream.iloc[3000 : 3000 + ROWS].reset_index(drop=True)
    frame["order_id"] = [f"b-{i}" for i in range(ROWS)]
    frame = frame.astype({"x0": object})
    frame.loc[10, "x0"] = "not a number"
    frame.loc[20, "x1"] = float("inf")
    frame.loc[30, "order_id"] = None
    return frame


def test_a_scored_folder_is_logged_like_served_traffic_and_its_labels_join_by_id(
    bcfg, versions, serve_port, tmp_path, monkeypatch
) -> None:
    from ray import serve

    from driftline.platform.cli import app
    from driftline.serve_apps.app import build_app

    frame = _table(bcfg)
    folder = tmp_path / "day=2026-12-07"
    folder.mkdir()
    for part in range(3):
        piece = frame.iloc[part * 100 : (part + 1) * 100].drop(columns=["y"])
        piece.astype({"x0": str}).to_parquet(folder / f"part-{part}.parquet")  # numbers as text, as exports have
    config = tmp_path / "driftline.yaml"
    config.write_text(yaml.safe_dump(bcfg.model_dump(mode="json")))
    out = tmp_path / "scored"
    args = ["score", "--data", str(folder), "--out", str(out), "--config", str(config), "--candidate", "shadow"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, f"{result.output}\n{result.exception!r}"
    said = " ".join(result.output.split())
    assert f"{ROWS} rows" in said and f"{ROWS - 3} scored by champion v{versions[CHAMPION]}" in said, said

    answers = pq.read_table(out).to_pandas()
    assert len(answers) == ROWS - 3 and set(answers["model_version"]) == {versions[CHAMPION]}
    assert set(answers["order_id"]) == {f"b-{i}" for i in range(ROWS)} - {"b-10", "b-20", "b-30"}
    assert {"prediction", "probabilities", "request_id", "row"} <= set(answers.columns)
    rejects = pq.read_table(out / "_rejects").to_pandas()
    assert sorted(rejects["reason"]) == [
        "feature 'x0' is not a number",
        "feature 'x1' is not finite",
        "no id (order_id)",
    ], rejects
    log = pq.read_table(bcfg.workdir_path / "logs" / "predictions").to_pandas()
    assert set(log["source"]) == {"batch"}
    served, shadow = log[log["role"] == "served"], log[log["role"] == "shadow"]
    assert len(served) == len(shadow) == ROWS - 3
    assert set(shadow["model_version"]) == {versions[CANDIDATE]} and set(shadow["variant"]) == {"candidate"}

    serve.run(build_app(bcfg), name="batch", route_prefix="/batch")
    try:
        url = f"http://127.0.0.1:{serve_port}/batch"
        labels = frame.loc[frame["order_id"].notna(), ["order_id", "y"]]
        table = tmp_path / "labels.parquet"
        labels.to_parquet(table)
        monkeypatch.setenv("DRIFTLINE_LABELLER_TOKEN", LABELLER)
        imported = ["labels", "import", "--data", str(table), "--id", "order_id", "--label", "y", "--url", url]
        deadline = time.monotonic() + 60
        while True:  # the writer takes in the batch job's files within serve.log_rescan_seconds of its start
            done = CliRunner().invoke(app, imported)
            said = " ".join(done.output.split())
            if f"joined {ROWS - 3}," in said or time.monotonic() > deadline:
                break
            time.sleep(1.0)
        assert f"joined {ROWS - 3}, duplicate 0, conflict 0, unknown_id 2" in said, said  # b-10, b-20: rejected
        assert httpx.get(f"{url}/healthz").json()["status"] == "ok"
    finally:
        serve.delete("batch")
    time.sleep(1.0)
    logs = bcfg.workdir_path / "logs"
    report = run_drift_job(
        f"models:/{MODEL}@champion",
        str(logs / "predictions"),
        config=bcfg,
        feedback=str(logs / "feedback"),
        log_to_mlflow=False,
    )
    assert report["window"]["rows"] == ROWS - 3 and report["window"]["labelled_rows"] == ROWS - 3
    learnt = LogLabels(bcfg).rows()  # what the loop's retrain would learn from
    assert len(learnt) == ROWS - 3 and set(learnt["source"]) == {"batch"}

    # A/B in batch: the rows whose id hashes into the share get the candidate's answer, logged as its own.
    from driftline.serve_apps.batch_score import CandidateUse, score_table

    split = score_table(bcfg, str(folder), tmp_path / "ab", use=CandidateUse.AB, share=0.5)
    answers = pq.read_table(tmp_path / "ab").to_pandas()
    by_version = answers.groupby("model_version")["order_id"].count().to_dict()
    assert by_version.get(versions[CANDIDATE], 0) == split.candidate_rows and 0.3 < split.candidate_rows / 297 < 0.7
    log = pq.read_table(logs / "predictions").to_pandas()
    ab = log[log["request_id"].isin(set(answers["request_id"]))]
    assert set(ab["role"]) == {"served"} and set(ab.groupby("variant")["model_version"].first()) == set(
        versions.values()
    )
