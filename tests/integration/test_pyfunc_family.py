"""The pyfunc family: a scikit-learn model the user logged to MLflow becomes the champion, is served over HTTP, and
is retrained through the user's fit(train, valid, init_model) as a Ray task."""

from __future__ import annotations

from pathlib import Path

import httpx
import mlflow
import pytest

from driftline.core.config import DriftlineConfig
from driftline.datasets import load_stream
from driftline.model.registry import CANDIDATE, CHAMPION, ModelRegistry

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def users_model(cfg: DriftlineConfig) -> str:
    """What the user did before driftline: fit a pipeline, log it with mlflow.sklearn, register it."""
    from tests.user_train import NUMERIC, pipeline

    stream, _ = load_stream(cfg.data)
    rows = stream.iloc[:2000]
    model = pipeline().fit(rows[[*NUMERIC, "region"]], rows["y"])
    mlflow.set_tracking_uri(cfg.tracking_uri)
    mlflow.set_registry_uri(cfg.registry_uri)
    info = mlflow.sklearn.log_model(sk_model=model, name="users-model", registered_model_name="users-sklearn")
    mlflow.set_tracking_uri("")  # back to MLflow's default: driftline must point MLflow at its store itself
    mlflow.set_registry_uri("")
    return f"models:/users-sklearn/{info.registered_model_version}"


def test_a_users_mlflow_model_is_champion_served_and_retrained(
    cfg: DriftlineConfig, users_model: str, ray_session: None, serve_port: int
) -> None:
    from ray import serve

    from driftline.serve_apps.app import build_app
    from driftline.train_jobs.champion import train_champion
    from driftline.train_jobs.retrain import RetrainStatus, run_retrain
    from driftline.train_jobs.retrain_config import RetrainConfig

    pcfg = cfg.with_overrides(
        **{"mlflow.model_name": "family-pyfunc", "model.family": "pyfunc", "model.uri": users_model}
    )
    champion = train_champion(pcfg)
    assert champion.val_accuracy > 0.75
    registry = ModelRegistry(pcfg)
    bundle, _ = registry.load_bundle(f"models:/family-pyfunc@{CHAMPION}")
    assert bundle.family == "pyfunc" and bundle.uri == users_model
    uri = f"models:/family-pyfunc/{champion.version.version}/requirements.txt"
    requirements = Path(mlflow.artifacts.download_artifacts(uri)).read_text()
    assert "scikit-learn" in requirements  # the user's model's own needs travel with driftline's version
    stream, schema = load_stream(pcfg.data)
    rows = stream.iloc[2000:2010][list(schema.feature_names)]
    serve.run(build_app(pcfg), name="pyfunc", route_prefix="/pyfunc")
    try:
        answer = httpx.post(
            f"http://127.0.0.1:{serve_port}/pyfunc/predict", json={"instances": rows.to_dict("records")}, timeout=60
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["predictions"] == list(bundle.predict(rows))
        assert all(0 < p[1] < 1 for p in answer.json()["probabilities"])  # real probabilities, from predict_proba
    finally:
        serve.delete("pyfunc")

    rcfg = RetrainConfig.model_validate({"executor": "ray", "gates": {"margin": 0.2, "max_forgetting": 0.99}})
    skipped = run_retrain(pcfg, rcfg, stream.iloc[4000:6000])
    assert skipped.status is RetrainStatus.SKIPPED and "model.retrain is none" in skipped.reason
    with_fit = pcfg.with_overrides(**{"model.retrain": "tests.user_train:fit"})
    outcome = run_retrain(with_fit, rcfg, stream.iloc[4000:6000], older=stream.iloc[:2000], trigger="test")
    assert outcome.status is RetrainStatus.CANDIDATE, outcome.reason
    candidate, _ = registry.load_bundle(f"models:/family-pyfunc@{CANDIDATE}")
    assert candidate.family == "pyfunc" and candidate.uri != users_model  # the model the user's fit returned
    assert set(candidate.predict(rows)) <= {0, 1}
