"""Ten models in one Serve application, over real HTTP: each at /models/{name}/..., each with its own state, logs
and counters. One model's canary fails and is rolled back while another promotes; nothing of the others changes;
a model whose artifact is corrupt answers 503 while the rest answer 200; a real Open Inference Protocol client
(``tritonclient[http]``) predicts, reads metadata and gets v2 errors; a promotion to a version with a new class
takes that class's labels at once."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import httpx
import numpy as np
import pytest

from driftline.datasets import load_stream
from driftline.model.bundle import ModelBundle
from driftline.model.preprocess import TabularPreprocessor
from driftline.model.registry import CHAMPION, ModelRegistry
from driftline.serve_apps.model_host import FAULT_RATE_TAG
from driftline.serve_apps.prediction_log import PREDICTIONS, ParquetSink
from tests.integration.test_rollout_serving import AUTH, module_config

pytestmark = pytest.mark.integration
FLEET = [f"fleet-{i}" for i in range(10)]
BROKEN = "fleet-9"  # its champion's artifact is corrupt
NEW_CLASS = "fleet-classes"  # v1 has classes (0, 1), v2 adds 2
APP = "fleet"


def _register(fcfg, name: str, bundle: ModelBundle, profile: str, example, tags: dict[str, str] | None = None) -> str:
    registry = ModelRegistry(fcfg.with_overrides(**{"mlflow.model_name": name}))
    version = registry.register(
        bundle, profile_json=profile, example=example, metrics={}, params={}, tags=tags or {}, run_name=name
    )
    return version.version


def copies_of_the_champion(fcfg, names: list[str], candidates: bool = False) -> dict[str, str]:
    """The session champion registered under each of ``names`` with its champion alias set; with ``candidates`` a
    second version of each (the same weights) too. Returns each name's newest version."""
    registry = ModelRegistry(fcfg)
    uri = f"models:/{fcfg.mlflow.model_name}@{CHAMPION}"
    bundle, _ = registry.load_bundle(uri)
    profile = registry.load_profile_json(uri)
    example = load_stream(fcfg.data)[0].iloc[:50]
    newest = {}
    for name in names:
        version = _register(fcfg, name, bundle, profile, example)
        ModelRegistry(fcfg.with_overrides(**{"mlflow.model_name": name})).set_alias(CHAMPION, version)
        newest[name] = _register(fcfg, name, bundle, profile, example) if candidates else version
    return newest


@pytest.fixture(scope="module")
def fleet(cfg, champion) -> dict[str, Any]:
    """The session champion registered under ten names (a real MLflow model each), candidates for two of them, a
    corrupt champion for one, and a model whose second version has a new class."""
    fcfg = module_config(cfg, "fleet-tests")
    registry = ModelRegistry(fcfg)
    uri = f"models:/{fcfg.mlflow.model_name}@{CHAMPION}"
    bundle, _ = registry.load_bundle(uri)
    profile = registry.load_profile_json(uri)
    stream, schema = load_stream(fcfg.data)
    example = stream.iloc[:50]
    for name in [*FLEET, NEW_CLASS]:
        version = _register(fcfg, name, bundle, profile, example)
        ModelRegistry(fcfg.with_overrides(**{"mlflow.model_name": name})).set_alias(CHAMPION, version)
        if name == BROKEN:  # its stored bundle (the newest in the session's artifact store) overwritten with garbage
            newest = max(cfg.artifact_root.rglob("bundle.pt"), key=lambda p: p.stat().st_mtime)
            newest.write_bytes(b"not a model")
    wider = replace(schema, classes=(*schema.classes, 2))
    new_class = ModelBundle.create(TabularPreprocessor.fit(stream.iloc[:500], wider), (8,), seed=0)
    return {
        "cfg": fcfg,
        "failing": _register(fcfg, "fleet-7", bundle, profile, example, {FAULT_RATE_TAG: "1.0"}),
        "healthy": _register(fcfg, "fleet-3", bundle, profile, example),
        "new_class": _register(fcfg, NEW_CLASS, new_class, profile, example),
        "rows": stream.iloc[2000:2400][list(schema.feature_names)].to_dict("records"),
    }


@pytest.fixture(scope="module")
def fleet_url(fleet, serve_port):
    from ray import serve

    from driftline.serve_apps.app import build_app

    models = [{"name": name} for name in FLEET] + [{"name": NEW_CLASS, "placement": "remote"}]
    fcfg = fleet["cfg"].with_overrides(**{"serve.models": models})
    serve.run(build_app(fcfg), name=APP, route_prefix=f"/{APP}")
    url = f"http://127.0.0.1:{serve_port}/{APP}"
    deadline = time.monotonic() + 60
    while not all(
        httpx.get(f"{url}/healthz").json()["models"][name]["status"] == "ok" for name in FLEET if name != BROKEN
    ):
        assert time.monotonic() < deadline, httpx.get(f"{url}/healthz").json()
        time.sleep(0.5)
    yield url
    serve.delete(APP)


def _predict(client: httpx.Client, url: str, name: str, row: dict[str, Any], user: str) -> httpx.Response:
    return client.post(f"{url}/models/{name}/predict", json={"instances": [row]}, headers={"X-User-Id": user})


def _status(url: str, name: str) -> dict[str, Any]:
    return httpx.get(f"{url}/models/{name}/rollout").json()


def test_every_model_answers_on_its_own_route_and_a_corrupt_one_alone_answers_503(fleet, fleet_url) -> None:
    row = fleet["rows"][0]
    with httpx.Client(timeout=30) as client:
        answers = {name: _predict(client, fleet_url, name, row, "u1") for name in FLEET}
        assert {n: a.status_code for n, a in answers.items() if n != BROKEN} == {n: 200 for n in FLEET if n != BROKEN}
        assert answers[BROKEN].status_code == 503 and answers[BROKEN].json()["error"]["code"] == "model_unavailable"
        assert client.post(f"{fleet_url}/models/nope/predict", json={"instances": [row]}).status_code == 404
        several = client.post(f"{fleet_url}/predict", json={"instances": [row]})  # which model? say so
        assert several.status_code == 404 and "/models/fleet-0/" in several.json()["error"]["message"]
    health = httpx.get(f"{fleet_url}/healthz").json()
    assert health["status"] == "degraded" and health["models"][BROKEN]["status"] == "unavailable"
    assert "bundle" in (health["models"][BROKEN]["load_error"] or "").lower() or health["models"][BROKEN]["load_error"]
    assert health["models"][NEW_CLASS]["placement"] == "remote" and health["models"]["fleet-0"]["placement"] == "inline"


def test_a_label_joins_only_its_own_models_prediction(fleet, fleet_url) -> None:
    with httpx.Client(timeout=30) as client:
        answer = _predict(client, fleet_url, "fleet-1", fleet["rows"][1], "u2").json()
        item = {"request_id": answer["request_id"], "label": 1, "token": answer["feedback_tokens"][0]}
        elsewhere = client.post(f"{fleet_url}/models/fleet-2/feedback", json=item)
        assert elsewhere.status_code == 404 and elsewhere.json()["status"] == "unknown_request_id"
        assert client.post(f"{fleet_url}/models/fleet-1/feedback", json=item).json()["status"] == "accepted"


def test_one_models_failing_canary_rolls_back_while_another_promotes_and_the_rest_are_untouched(
    fleet, fleet_url
) -> None:
    canary = {
        "steps": [0.5, 1.0],
        "min_requests_per_step": 10,
        "min_seconds_per_step": 0,
        "max_p99_latency_ratio": 100.0,
    }
    spec = {"mode": "canary", "canary": canary}
    before = {name: _status(fleet_url, name) for name in FLEET if name not in ("fleet-3", "fleet-7", BROKEN)}
    sent: dict[str, int] = {name: 0 for name in FLEET}
    for name, version in (("fleet-7", fleet["failing"]), ("fleet-3", fleet["healthy"])):
        body = {**spec, "candidate_version": version}
        started = httpx.post(f"{fleet_url}/models/{name}/rollout", json=body, headers=AUTH)
        assert started.status_code == 200, started.text
    with httpx.Client(timeout=30) as client:
        deadline = time.monotonic() + 120
        for i in range(10**6):
            phases = {n: (_status(fleet_url, n)["rollout"] or {}).get("phase") for n in ("fleet-3", "fleet-7")}
            if phases == {"fleet-3": "PROMOTED", "fleet-7": "ROLLED_BACK"}:
                break
            assert time.monotonic() < deadline, phases
            for name in FLEET:
                if name != BROKEN:
                    response = _predict(client, fleet_url, name, fleet["rows"][i % 400], f"iso{i}")
                    assert response.status_code == 200, (name, response.text)  # the failing candidate never shows
                    sent[name] += 1
    for name, status in before.items():  # no other model's rollout, serving state or version moved
        now = _status(fleet_url, name)
        assert now["rollout"] == status["rollout"] and now["serving"] == status["serving"], name
    registry = ModelRegistry(fleet["cfg"].with_overrides(**{"mlflow.model_name": "fleet-3"}))
    assert registry.alias_version(CHAMPION) == fleet["healthy"]
    seven = ModelRegistry(fleet["cfg"].with_overrides(**{"mlflow.model_name": "fleet-7"}))
    assert seven.alias_version(CHAMPION) != fleet["failing"]
    # Each model's log holds its own rows: as many as it answered (the first test's rows included).
    deadline = time.monotonic() + 30
    while True:
        log = ParquetSink(fleet["cfg"].workdir_path / "logs").read(PREDICTIONS)
        served = log[log.role == "served"].groupby("model_name").size().to_dict() if len(log) else {}
        if all(served.get(name, 0) >= sent[name] for name in FLEET if name != BROKEN) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert BROKEN not in served and all(served[name] >= sent[name] for name in FLEET if name != BROKEN), served
    assert set(log[log.variant == "candidate"].model_name) <= {"fleet-3", "fleet-7"}  # only theirs had candidates


def test_a_real_open_inference_protocol_client(fleet, fleet_url, serve_port) -> None:
    import tritonclient.http as triton
    from tritonclient.utils import InferenceServerException, np_to_triton_dtype

    client = triton.InferenceServerClient(f"127.0.0.1:{serve_port}/{APP}")
    assert client.is_server_live()
    assert client.is_model_ready("fleet-0") and not client.is_model_ready(BROKEN)
    meta = client.get_model_metadata("fleet-0")
    assert [i["name"] for i in meta["inputs"]] == list(fleet["rows"][0]) and meta["versions"]
    rows = fleet["rows"][:3]

    def tensors(columns: list[str]) -> list[Any]:
        inputs = []
        for name in columns:
            values = [r[name] for r in rows]
            array = np.array(values, dtype=object if isinstance(values[0], str) else np.float64)
            tensor = triton.InferInput(name, list(array.shape), np_to_triton_dtype(array.dtype))
            tensor.set_data_from_numpy(array)  # the binary tensor extension, the client's default
            inputs.append(tensor)
        return inputs

    result = client.infer("fleet-0", tensors(list(rows[0])))
    predictions, probabilities = result.as_numpy("predictions"), result.as_numpy("probabilities")
    over_json = httpx.post(f"{fleet_url}/models/fleet-0/predict", json={"instances": rows}).json()
    assert predictions.tolist() == over_json["predictions"]
    np.testing.assert_allclose(probabilities, over_json["probabilities"], atol=1e-6)
    assert result.as_numpy("feedback_tokens").shape == (3,)
    with pytest.raises(InferenceServerException, match="missing"):
        client.infer("fleet-0", tensors(list(rows[0])[1:]))  # a feature left out
    with pytest.raises(InferenceServerException, match="No model"):
        client.infer("nope", tensors(list(rows[0])))
    bad = httpx.post(f"{fleet_url}/v2/models/fleet-0/infer", json={"inputs": [{"name": "x0", "shape": [2]}]})
    assert bad.status_code == 400 and set(bad.json()) == {"error"}


def test_a_promotion_to_a_version_with_a_new_class_takes_its_labels_at_once(fleet, fleet_url) -> None:
    """A remote-placed model (slot deployments): after the flip, a label of the new class is accepted at once."""
    name, version = NEW_CLASS, fleet["new_class"]
    canary = {"steps": [0.5, 1.0], "min_requests_per_step": 10**6}
    spec = {"mode": "canary", "candidate_version": version, "canary": canary}
    assert httpx.post(f"{fleet_url}/models/{name}/rollout", json=spec, headers=AUTH).status_code == 200
    deadline = time.monotonic() + 60
    while httpx.get(f"{fleet_url}/healthz").json()["models"][name].get("candidate_loaded") != version:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert httpx.post(f"{fleet_url}/models/{name}/rollout/promote", headers=AUTH).status_code == 200
    with httpx.Client(timeout=30) as client:
        answer = _predict(client, fleet_url, name, fleet["rows"][5], "after-flip")
        assert answer.headers["X-Model-Version"] == version  # the flip is seen by the next request
        body = answer.json()
        label = {"request_id": body["request_id"], "label": 2, "token": body["feedback_tokens"][0]}
        taken = client.post(f"{fleet_url}/models/{name}/feedback", json=label)
        assert taken.status_code == 200 and taken.json()["status"] == "accepted", taken.text
