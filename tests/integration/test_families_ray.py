"""The torch and xgboost families on the real thing: Ray Train (TorchTrainer with the user's module; XGBoostTrainer),
MLflow registration, Ray Serve over HTTP, and a warm retrain on Ray (continued boosting for xgboost)."""

from __future__ import annotations

import httpx
import mlflow
import pytest

from driftline.core.config import DriftlineConfig
from driftline.datasets import load_stream
from driftline.model.registry import CANDIDATE, CHAMPION, ModelRegistry

pytestmark = pytest.mark.integration

FAMILIES = {
    "xgboost": {"model.family": "xgboost", "model.params": {"num_boost_round": 40, "warm_rounds": 15}},
    "torch": {"model.family": "torch", "model.factory": "tests.user_nets:build", "model.params": {"width": 16}},
}


@pytest.fixture(scope="module", params=sorted(FAMILIES))
def family_cfg(request, cfg: DriftlineConfig, ray_session: None) -> DriftlineConfig:
    return cfg.with_overrides(**{"mlflow.model_name": f"family-{request.param}", **FAMILIES[request.param]})


def test_a_family_trains_serves_and_warm_retrains_on_ray(family_cfg: DriftlineConfig, serve_port: int) -> None:
    from ray import serve

    from driftline.serve_apps.app import build_app
    from driftline.train_jobs.champion import train_champion
    from driftline.train_jobs.retrain import RetrainStatus, run_retrain
    from driftline.train_jobs.retrain_config import RetrainConfig

    family = family_cfg.model.family.value
    champion = train_champion(family_cfg)
    assert champion.val_accuracy > 0.75, champion
    registry = ModelRegistry(family_cfg)
    bundle, _ = registry.load_bundle(f"models:/{family_cfg.mlflow.model_name}@{CHAMPION}")
    assert bundle.family == family
    mlflow.set_tracking_uri(family_cfg.tracking_uri)  # any MLflow client loads it, whatever the family
    stream, schema = load_stream(family_cfg.data)
    rows = stream.iloc[2000:2010][list(schema.feature_names)]
    plain = mlflow.pyfunc.load_model(f"models:/{family_cfg.mlflow.model_name}@{CHAMPION}").predict(rows)
    assert list(plain["prediction"]) == list(bundle.predict(rows))

    name = f"fam-{family}"
    serve.run(build_app(family_cfg), name=name, route_prefix=f"/{name}")
    try:
        body = {"instances": rows.to_dict("records")}
        answer = httpx.post(f"http://127.0.0.1:{serve_port}/{name}/predict", json=body, timeout=60)
        assert answer.status_code == 200, answer.text
        assert answer.json()["predictions"] == list(bundle.predict(rows))
    finally:
        serve.delete(name)

    if family != "xgboost":
        return  # the torch family retrains through the MLP's loop (warm start = the weights), tested with the MLP
    # The concept flips at row 4000: forgetting the old concept is the point here, so that gate is opened. What is
    # tested is continued boosting, so no cold retrain competes (after this flip one may win: test_retrain.py).
    gates = {"margin": 0.2, "max_forgetting": 0.99, "cold_challenger": "never"}
    rcfg = RetrainConfig.model_validate({"executor": "ray", "epochs": 2, "gates": gates})
    outcome = run_retrain(family_cfg, rcfg, stream.iloc[4000:6000], older=stream.iloc[:2000], trigger="test")
    assert outcome.status is RetrainStatus.CANDIDATE, outcome.reason
    candidate, _ = registry.load_bundle(f"models:/{family_cfg.mlflow.model_name}@{CANDIDATE}")
    from driftline.model.families.xgboost_booster import booster_rounds

    assert candidate.family == "xgboost"
    assert booster_rounds(candidate.booster) == 40 + 15  # continued boosting from the champion's booster
