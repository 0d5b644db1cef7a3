"""The ingress: a FastAPI app on Ray Serve that validates requests and routes them to model replicas.

Endpoints: ``POST /predict``, ``GET /healthz`` and the OpenAPI docs at ``/docs``.
"""

# No `from __future__ import annotations` here: FastAPI must see real types after Serve rewrites signatures.

import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from ray import serve

from driftline.datasets.schema import DatasetSchema
from driftline.serve_apps.payload import PayloadError, parse_payload

__all__ = ["Router", "api"]

api = FastAPI(
    title="driftline",
    description="Predictions from the champion model, with safe rollout of candidates.",
    version="0.1.0",
)


_PREDICT_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "description": "One of: instances (list of objects), dataframe_records (same), "
                    "dataframe_split ({columns, data}). Every row needs every feature of the model.",
                    "properties": {
                        "instances": {"type": "array", "items": {"type": "object"}},
                        "dataframe_records": {"type": "array", "items": {"type": "object"}},
                        "dataframe_split": {"type": "object"},
                    },
                },
                "example": {"instances": [{"x0": 0.1, "x1": -0.3, "x2": 1.2, "x3": 0.0, "x4": 0.5, "region": "a"}]},
            }
        },
    }
}


def _request_id(request: Request) -> str:
    """Serve's request id: the client's ``X-Request-Id`` when given, else one the proxy generated.

    The proxy also echoes it in the response's ``X-Request-Id`` header, so the router must not add a second one.
    """
    from ray.serve.context import _get_serve_request_context

    return _get_serve_request_context().request_id or request.headers.get("x-request-id") or uuid.uuid4().hex


def _error(err: PayloadError, request_id: str) -> JSONResponse:
    body = err.to_json()
    body["request_id"] = request_id
    return JSONResponse(body, status_code=err.status)


# Ingress is applied at import time so every replica process rebuilds the same routes bound to its instance.
@serve.ingress(api)
class Router:
    """Serve ingress deployment class (wrapped with ``serve.deployment`` by the app builder)."""

    def __init__(self, champion: Any, settings: dict[str, Any]) -> None:
        self._champion = champion
        self._max_rows = int(settings["max_batch_rows"])
        self._schema: DatasetSchema | None = None

    async def _get_schema(self) -> DatasetSchema:
        if self._schema is None:
            info = await self._champion.info.remote()
            self._schema = DatasetSchema.from_dict(info["schema"])
        return self._schema

    @api.get("/healthz", summary="Liveness and the champion's version")
    async def healthz(self) -> dict[str, Any]:
        info = await self._champion.info.remote()
        return {"status": "ok", "champion_version": info["version"]}

    @api.post("/predict", summary="Predict a batch", openapi_extra=_PREDICT_DOC)
    async def predict(self, request: Request) -> JSONResponse:
        request_id = _request_id(request)
        try:
            try:
                body = await request.json()
            except ValueError:
                raise PayloadError(400, "bad_json", "The body is not valid JSON.") from None
            frame = parse_payload(body, await self._get_schema(), self._max_rows)
        except PayloadError as err:
            return _error(err, request_id)
        result = await self._champion.predict.remote(frame)
        headers = {"X-Model-Version": result.model_version, "X-Variant": "champion"}
        payload = {
            "request_id": request_id,
            "predictions": result.predictions,
            "probabilities": result.probabilities,
            "model_version": result.model_version,
            "variant": "champion",
        }
        return JSONResponse(payload, headers=headers)
