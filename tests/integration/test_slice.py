"""The walking skeleton, all real: Ray Train -> MLflow registry (alias champion) -> Ray Serve over HTTP."""

from __future__ import annotations

import json

import httpx
import mlflow
import pytest

from driftline.datasets import load_stream
from driftline.model.registry import CHAMPION, ModelRegistry

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def app_url(cfg, champion, serve_port):
    from ray import serve

    from driftline.serve_apps.app import build_app

    serve.run(build_app(cfg), name="slice", route_prefix="/slice")
    yield f"http://127.0.0.1:{serve_port}/slice"
    serve.delete("slice")


@pytest.fixture(scope="module")
def rows(cfg):
    stream, schema = load_stream(cfg.data)
    return stream.iloc[2000:2010][list(schema.feature_names)].to_dict("records")


def test_champion_is_registered_with_alias_signature_and_profile(cfg, champion) -> None:
    registry = ModelRegistry(cfg)
    assert registry.alias_version(CHAMPION) == champion.version.version
    assert 0.7 < champion.val_accuracy <= 1.0
    mlflow.set_tracking_uri(cfg.tracking_uri)
    model = mlflow.pyfunc.load_model(f"models:/{cfg.mlflow.model_name}@champion")
    assert model.metadata.signature is not None
    assert set(model.metadata.signature.inputs.input_names()) == {"x0", "x1", "x2", "x3", "x4", "region"}
    profile = json.loads(registry.load_profile_json("models:/driftline-model@champion"))
    assert profile  # the drift reference travels with the model version


def test_predict_accepts_three_body_shapes(app_url, rows, champion) -> None:
    split = {"columns": list(rows[0]), "data": [list(r.values()) for r in rows]}
    answers = []
    for body in ({"instances": rows}, {"dataframe_records": rows}, {"dataframe_split": split}):
        response = httpx.post(f"{app_url}/predict", json=body, timeout=30)
        assert response.status_code == 200, response.text
        assert response.headers["X-Model-Version"] == champion.version.version
        assert response.headers["X-Variant"] == "champion"
        assert response.headers["X-Driftline-Request-Id"] == response.json()["request_id"]  # the server's id
        answers.append(response.json()["predictions"])
    assert answers[0] == answers[1] == answers[2] and len(answers[0]) == len(rows)


def test_client_request_id_is_kept_but_never_the_key(app_url, rows) -> None:
    response = httpx.post(f"{app_url}/predict", json={"instances": rows[:2]}, headers={"X-Request-Id": "abc-123"})
    body = response.json()
    assert body["client_request_id"] == "abc-123" and body["request_id"] != "abc-123"
    assert len(body["feedback_tokens"]) == 2 and len(set(body["feedback_tokens"])) == 2  # one token per row


@pytest.mark.parametrize(
    ("mutate", "status", "field"),
    [
        (lambda r: {"instances": [{k: v for k, v in r.items() if k != "x1"}]}, 422, "x1"),
        (lambda r: {"instances": [{**r, "x0": "high"}]}, 422, "x0"),
        (lambda r: {"instances": [{**r, "x2": float("nan")}]}, 422, "x2"),
        (lambda r: {"instances": []}, 422, "instances"),
        (lambda r: {"instances": [r] * 51}, 413, None),
        (lambda r: {"rows": [r]}, 400, "body"),
    ],
)
def test_bad_input_is_a_clear_4xx(app_url, rows, mutate, status, field) -> None:
    response = httpx.post(f"{app_url}/predict", content=json.dumps(mutate(rows[0])), timeout=30)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["field"] == field and error["message"]


def test_invalid_json_is_400(app_url) -> None:
    response = httpx.post(f"{app_url}/predict", content=b"{not json", timeout=30)
    assert response.status_code == 400 and response.json()["error"]["code"] == "bad_json"


def test_healthz_and_openapi(app_url, champion) -> None:
    health = httpx.get(f"{app_url}/healthz").json()
    assert health["status"] == "ok" and health["champion_version"] == champion.version.version
    spec = httpx.get(f"{app_url}/openapi.json").json()
    assert "/predict" in spec["paths"] and httpx.get(f"{app_url}/docs").status_code == 200
