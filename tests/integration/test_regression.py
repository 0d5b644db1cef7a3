"""Regression end to end, all real: `driftline init` on an exported regression table (a numeric target), Ray Train ->
MLflow -> Ray Serve over HTTP answering numbers and taking float labels -> the drift job on the served log with its
labels sees RMSE decay after a concept change -> the policy fires on RMSE -> a warm retrain on Ray -> a canary whose
quality check is non-inferiority on absolute error, fed by real feedback -> promotion."""

from __future__ import annotations

import math
import time
from pathlib import Path

import httpx
import mlflow
import pandas as pd
import pytest
from typer.testing import CliRunner

from driftline.core.config import DriftlineConfig
from driftline.core.config_loader import load_config
from driftline.model.registry import CANDIDATE, CHAMPION, ModelRegistry

pytestmark = pytest.mark.integration
TOKEN = "regression-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SCENARIO = "regression_concept_drift"  # 20,000 rows, x0's effect flips at row 10,000


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory, ray_session: None) -> tuple[DriftlineConfig, Path, str]:
    from driftline.platform.cli import app

    folder = tmp_path_factory.mktemp("regression")
    runner = CliRunner()
    for rows, name in (("0:4000", "train.csv"), ("12000:16000", "later.parquet")):
        done = runner.invoke(app, ["datasets", "export", SCENARIO, "--rows", rows, "--out", str(folder / name)])
        assert done.exit_code == 0, done.output
    args = ["init", "--data", str(folder / "train.csv"), "--label", "y", "--timestamp", "timestamp"]
    result = runner.invoke(app, [*args, "--out", str(folder / "driftline.yaml")])
    assert result.exit_code == 0, result.output
    cfg = load_config(
        folder / "driftline.yaml",
        workdir=folder / "work",
        overrides={
            "mlflow.model_name": "regression",
            "train.epochs": 6,
            "train.cpus_per_worker": 0.5,
            "serve.router.num_cpus": 0.1,
            "serve.model.num_cpus": 0.1,
            "serve.admin_token": TOKEN,
            "serve.log_flush_seconds": 0.5,
            "serve.poll_seconds": 0.2,
        },
    )
    return cfg, folder, result.output


@pytest.fixture(scope="module")
def champion(setup):
    from driftline.train_jobs.champion import train_champion

    return train_champion(setup[0])


@pytest.fixture(scope="module")
def url(setup, champion, serve_port):
    from ray import serve

    from driftline.serve_apps.app import build_app

    serve.run(build_app(setup[0]), name="regression", route_prefix="/reg")
    yield f"http://127.0.0.1:{serve_port}/reg"
    serve.delete("regression")


def test_init_takes_a_float_target_for_regression(setup) -> None:
    cfg, _, output = setup
    assert cfg.dataset is not None and cfg.dataset.task.value == "regression", output
    assert "regression" in output


def test_champion_predicts_numbers_near_the_noise_floor_and_loads_with_plain_mlflow(setup, champion) -> None:
    cfg, folder, _ = setup
    assert champion.evaluation is not None and champion.evaluation.is_regression
    assert champion.evaluation.rmse < 1.6, champion.quality  # the synthetic target's noise sd is 1.0
    assert "RMSE" in champion.quality
    mlflow.set_tracking_uri(cfg.tracking_uri)
    rows = pd.read_csv(folder / "train.csv").head(20)
    answer = mlflow.pyfunc.load_model(f"models:/{cfg.mlflow.model_name}@{CHAMPION}").predict(rows)
    assert list(answer.columns) == ["prediction"] and answer["prediction"].dtype.kind == "f"
    assert (answer["prediction"] - rows["y"]).abs().mean() < 2.0


def _features(frame: pd.DataFrame) -> list[dict]:
    return frame.drop(columns=["y", "timestamp"]).to_dict("records")


def test_serving_answers_numbers_and_takes_float_labels(setup, url) -> None:
    _, folder, _ = setup
    rows = pd.read_csv(folder / "train.csv").iloc[3000:3005]
    response = httpx.post(f"{url}/predict", json={"instances": _features(rows)}, timeout=60)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "probabilities" not in body and all(isinstance(p, float) for p in body["predictions"])
    item = {"request_id": body["request_id"], "token": body["feedback_tokens"][0], "label": float(rows["y"].iloc[0])}
    accepted = httpx.post(f"{url}/feedback", json=item, timeout=30)
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted", accepted.text
    text = {**item, "row": 1, "token": body["feedback_tokens"][1], "label": "high"}
    refused = httpx.post(f"{url}/feedback", json=text, timeout=30)
    assert refused.status_code == 422 and "finite number" in refused.text
    schemas = httpx.get(f"{url}/openapi.json", timeout=30).json()["components"]["schemas"]
    assert schemas["PredictResponse"]["properties"]["predictions"]["items"] == {"type": "number"}
    assert schemas["FeedbackItem"]["properties"]["label"]["type"] == "number"


def _serve_with_labels(url: str, frame: pd.DataFrame) -> list[str]:
    """Each row through /predict, then its label through /feedback, as a production client would."""
    ids = []
    with httpx.Client(timeout=60) as client:
        for start in range(0, len(frame), 20):
            chunk = frame.iloc[start : start + 20]
            body = client.post(f"{url}/predict", json={"instances": _features(chunk)}).json()
            items = [
                {"request_id": body["request_id"], "row": i, "token": token, "label": float(y)}
                for i, (token, y) in enumerate(zip(body["feedback_tokens"], chunk["y"], strict=True))
            ]
            answer = client.post(f"{url}/feedback", json={"items": items})
            assert answer.status_code == 200, answer.text
            ids.append(body["request_id"])
    return ids


def test_drift_on_the_served_log_sees_rmse_decay_and_the_policy_retrains_warm(setup, url, tmp_path) -> None:
    from driftline.monitors.drift_job import run_drift_job
    from driftline.platform.policy_config import TriggerConfig
    from driftline.platform.policy_signals import read_signals
    from driftline.train_jobs.retrain import RetrainStatus, run_retrain
    from driftline.train_jobs.retrain_config import RetrainConfig

    cfg, folder, _ = setup
    later = pd.read_parquet(folder / "later.parquet")
    _serve_with_labels(url, later.iloc[:600])
    logs = cfg.workdir_path / "logs"
    deadline = time.monotonic() + 60
    while True:  # the writer flushes every 0.5 s; the labels are durable already, the log files follow
        report = run_drift_job(
            f"models:/{cfg.mlflow.model_name}@{CHAMPION}",
            str(logs / "predictions"),
            tmp_path / "report",
            config=cfg,
            feedback=str(logs / "feedback"),
        )
        if report["window"]["labelled_rows"] >= 600 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    perf = report["performance"]
    assert report["task"] == "regression" and perf["metric"] == "rmse", perf
    assert perf["decayed"] and perf["current"] > 2 * perf["baseline"] and perf["ci_low"] > perf["baseline"], perf
    assert perf["metrics"]["mae"]["decayed"] and perf["p_value"] < 1e-6
    assert set(report["prediction_drift"]) == {"prediction", "label"}
    assert (tmp_path / "report" / "report.html").is_file()
    signals = read_signals(report, False, TriggerConfig(performance_metric="mae"))
    assert "performance" in signals.fired and signals.fired["performance"].startswith("mae decayed"), signals

    # The concept flipped: forgetting the old one is the point, so that gate is opened; not-worse stays on.
    rcfg = RetrainConfig.model_validate({"executor": "ray", "epochs": 6, "gates": {"max_forgetting": 10.0}})
    train = pd.read_csv(folder / "train.csv")
    outcome = run_retrain(cfg, rcfg, later.iloc[600:3600], older=train, trigger=signals.fired["performance"])
    assert outcome.status is RetrainStatus.CANDIDATE, outcome.reason
    assert "rmse" in outcome.reason


def test_canary_checks_absolute_error_on_real_feedback_and_promotes(setup, url) -> None:
    cfg, folder, _ = setup
    registry = ModelRegistry(cfg)
    candidate = registry.alias_version(CANDIDATE)
    assert candidate is not None
    spec = {
        "mode": "canary",
        "candidate_version": candidate,
        "canary": {
            "steps": [0.5, 1.0],
            "min_requests_per_step": 40,
            "min_seconds_per_step": 0,
            "min_labelled": 30,
            "max_p99_latency_ratio": 100.0,
        },
    }
    started = httpx.post(f"{url}/rollout", json=spec, headers=AUTH, timeout=30)
    assert started.status_code == 200, started.text
    later = pd.read_parquet(folder / "later.parquet").iloc[3600:]
    deadline, offset, status = time.monotonic() + 180, 0, {}
    while time.monotonic() < deadline:
        _serve_with_labels(url, later.iloc[offset : offset + 100])
        offset = (offset + 100) % (len(later) - 100)
        status = httpx.get(f"{url}/rollout", timeout=30).json()
        if status["rollout"]["phase"] in ("PROMOTED", "ROLLED_BACK"):
            break
    rollout = status["rollout"]
    assert rollout["phase"] == "PROMOTED", rollout["history"][-1]
    checks = [c for t in rollout["history"] for c in (t.get("evidence") or {}).get("checks", [])]
    mae = [c for c in checks if c["name"] == "mae_increase_ci_low"]
    judged = [c for c in mae if c["observed"] is not None]
    assert judged and all(c["passed"] for c in judged), mae  # the new concept's model is not worse: it is better
    assert all(math.isfinite(c["observed"]) and c["observed"] < 0 for c in judged), judged
    deadline = time.monotonic() + 30
    while registry.alias_version(CHAMPION) != candidate and time.monotonic() < deadline:
        time.sleep(0.2)  # the alias moves as the promotion's effect, just after the decision is saved
    assert registry.alias_version(CHAMPION) == candidate


def test_history_says_which_version_was_champion_when_and_why(setup, url) -> None:
    from driftline.platform.cli import app

    cfg, folder, _ = setup
    answer = httpx.get(f"{url}/rollout/history", timeout=30).json()
    first, second = answer["periods"][:2]
    assert (first["version"], second["version"]) == ("1", "2") and first["until"] == second["since"]
    assert first["reason"].startswith("initial champion (driftline train: validation RMSE")
    assert second["reason"] == "rollout: canary passed every step" and second["previous"] == "1"
    middle = (first["since"] + first["until"]) / 2
    at = httpx.get(f"{url}/rollout/history", params={"at": str(middle)}, timeout=30).json()
    assert at["period"]["version"] == "1"
    bad = httpx.get(f"{url}/rollout/history", params={"at": "yesterday"}, timeout=30)
    assert bad.status_code == 422 and "ISO 8601" in bad.text
    args = ["history", "--config", str(folder / "driftline.yaml"), "--workdir", str(cfg.workdir_path)]
    args += ["--model", cfg.mlflow.model_name]  # each model has its own timeline; the file names the default one
    printed = CliRunner().invoke(app, [*args, "--at", str(middle)])
    assert (
        printed.exit_code == 0
        and "v1 was champion at" in printed.output
        and "because initial champion" in printed.output
    )
    before = CliRunner().invoke(app, [*args, "--at", "2000-01-01T00:00:00Z"])
    assert before.exit_code == 1 and "no version held champion" in before.output
