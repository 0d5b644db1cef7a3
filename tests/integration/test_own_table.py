"""A user's own table, all real: `driftline init` on a CSV with "yes"/"no" labels, text and boolean columns and gaps,
then Ray Train -> MLflow -> Ray Serve over HTTP in the user's classes -> drift job on a later file (the README
walkthrough test retrains from such a file)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import mlflow
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from driftline.core.config import DriftlineConfig
from driftline.core.config_loader import load_config
from driftline.model.registry import CHAMPION

pytestmark = pytest.mark.integration


def customers(n: int, seed: int, *, shifted: bool = False) -> pd.DataFrame:
    """Churn: more likely with high usage ``x``, in Rome, for the young. ``shifted`` moves P(X) (usage up, a new
    city, Paris, that training never saw) and keeps P(churn | X): covariate shift."""
    rng = np.random.default_rng(seed)
    cities = ["oslo", "rome", "lima", "paris"] if shifted else ["oslo", "rome", "lima"]
    x = rng.normal(1.2 if shifted else 0.0, 1.0, n)
    city = rng.choice(cities, n)
    age = rng.integers(18, 80, n).astype(float)
    vip = rng.random(n) < 0.3
    score = 1.5 * x + 0.9 * (city == "rome") - 0.03 * (age - 45) - 0.8 * vip + rng.normal(0, 0.5, n)
    age[rng.random(n) < 0.05] = np.nan  # a few ages unknown
    return pd.DataFrame(
        {
            "customer_id": [f"c{seed}-{i}" for i in range(n)],
            "usage": x,
            "age": age,
            "city": city,
            "vip": vip,
            "churned": np.where(score > 0.3, "yes", "no"),
        }
    )


@pytest.fixture(scope="module")
def own(tmp_path_factory: pytest.TempPathFactory, ray_session: None) -> tuple[DriftlineConfig, Path, str]:
    from driftline.platform.cli import app

    folder = tmp_path_factory.mktemp("own")
    customers(2400, seed=1).to_csv(folder / "customers.csv", index=False)
    result = CliRunner().invoke(
        app,
        [
            "init",
            *("--data", str(folder / "customers.csv"), "--label", "churned"),
            *("--exclude", "customer_id", "--out", str(folder / "driftline.yaml")),
        ],
    )
    assert result.exit_code == 0, result.output
    cfg = load_config(
        folder / "driftline.yaml",
        workdir=folder / "work",
        overrides={
            "mlflow.model_name": "own-table",
            "train.epochs": 4,
            "train.cpus_per_worker": 0.5,
            "serve.router.num_cpus": 0.1,
            "serve.model.num_cpus": 0.1,
        },
    )
    return cfg, folder, result.output


@pytest.fixture(scope="module")
def trained(own):
    from driftline.train_jobs.champion import train_champion

    cfg, _, _ = own
    return train_champion(cfg)


def test_init_explains_each_column_and_pins_the_schema(own) -> None:
    cfg, _, output = own
    assert "churned: string, 2 values -> label of a binary classifier (classes no, yes)" in output
    assert "city: string, 3 values -> categorical" in output and "vip: bool, 2 values -> categorical" in output
    assert "age: double, 5% missing -> numeric" in output or "age: double, 4% missing -> numeric" in output
    assert cfg.dataset is not None and cfg.dataset.task.value == "binary"
    assert cfg.dataset.features.numeric == ["usage", "age"] and cfg.dataset.features.categorical == ["city", "vip"]
    assert cfg.train.train_rows == 2400


def test_champion_answers_in_the_users_classes_and_loads_with_plain_mlflow(own, trained) -> None:
    cfg, _, _ = own
    assert trained.val_accuracy > 0.8
    mlflow.set_tracking_uri(cfg.tracking_uri)
    uri = f"models:/{cfg.mlflow.model_name}@{CHAMPION}"
    model = mlflow.pyfunc.load_model(uri)
    answer = model.predict(customers(50, seed=5).drop(columns=["churned", "customer_id"]))
    assert set(answer["prediction"]) <= {"no", "yes"} and {"proba_no", "proba_yes"} <= set(answer.columns)
    requirements = Path(mlflow.artifacts.download_artifacts(f"{uri}/requirements.txt")).read_text().split()
    from importlib.metadata import version

    assert f"driftline=={version('driftline')}" in requirements  # a fresh environment gets this very driftline


@pytest.fixture(scope="module")
def own_url(own, trained, serve_port):
    from ray import serve

    from driftline.serve_apps.app import build_app

    cfg, _, _ = own
    serve.run(build_app(cfg), name="own", route_prefix="/own")
    yield f"http://127.0.0.1:{serve_port}/own"
    serve.delete("own")


def test_serving_speaks_the_users_classes_gaps_and_new_categories(own_url) -> None:
    rows = customers(20, seed=9, shifted=True).drop(columns=["churned", "customer_id"])
    records = json.loads(rows.to_json(orient="records"))  # NaN age -> null, as a JSON client sends it
    records[0]["city"] = None
    response = httpx.post(f"{own_url}/predict", json={"instances": records}, timeout=30)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body["predictions"]) <= {"no", "yes"}
    feedback = {"request_id": body["request_id"], "token": body["feedback_tokens"][0], "label": "yes"}
    accepted = httpx.post(f"{own_url}/feedback", json=feedback, timeout=30)
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted", accepted.text
    wrong = httpx.post(f"{own_url}/feedback", json={**feedback, "row": 1, "label": "maybe"}, timeout=30)
    assert wrong.status_code == 422 and "'maybe' is not one of ['no', 'yes']" in wrong.text
    text_for_number = httpx.post(f"{own_url}/predict", json={"instances": [{**records[1], "usage": "high"}]})
    assert text_for_number.status_code == 422 and text_for_number.json()["error"]["field"] == "usage"
    spec = httpx.get(f"{own_url}/openapi.json", timeout=30).json()["components"]["schemas"]
    assert spec["PredictResponse"]["properties"]["predictions"]["items"]["enum"] == ["no", "yes"]


def test_drift_job_runs_on_the_users_files(own, trained, tmp_path) -> None:
    from driftline.monitors.drift_job import run_drift_job

    cfg, folder, _ = own
    later = customers(2000, seed=2, shifted=True)
    later.to_parquet(folder / "later.parquet")
    report = run_drift_job(
        f"models:/{cfg.mlflow.model_name}@{CHAMPION}", str(folder / "later.parquet"), tmp_path / "report", config=cfg
    )
    assert "usage" in report["summary"]["drifted_features"]
    assert any(f.startswith("city: ") and "(paris)" in f for f in report["summary"]["data_quality"])
    assert report["features"]["age"]["data_quality"]["missing_share"]["reference"] > 0.02
    assert (tmp_path / "report" / "report.html").is_file()
    # The table has labels but no predictions: the job scores it with the model and judges performance on it.
    perf = report["performance"]
    assert report["window"]["scored_by"] == f"models:/{cfg.mlflow.model_name}@{CHAMPION}" and perf["n"] == 2000
    assert perf["current"] > 0.75 and not perf["decayed"]  # covariate shift: P(churn | X) held, so did accuracy
    assert abs(perf["estimated"]["accuracy"]["value"] - perf["current"]) < 0.05  # and the label-free estimate agrees
