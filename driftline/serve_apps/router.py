"""The ingress: validates requests, routes them to the champion or candidate slot, logs every prediction.

Endpoints: ``POST /predict``, ``POST /feedback``, ``GET /healthz``, ``GET /rollout`` and the admin operations
``POST /rollout``, ``POST /rollout/promote``, ``POST /rollout/abort`` (bearer token), OpenAPI at ``/docs``.
Modes come from the serving state (see ``serving_state.py``): none, shadow (candidate mirrored off the user's
path), ab and canary (sticky hash buckets on ``X-User-Id`` or the request id).
"""

# No `from __future__ import annotations` here: FastAPI must see real types after Serve rewrites signatures.

import asyncio
import json
import math
import time
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from ray import serve

from driftline.core.config import DriftlineConfig
from driftline.core.errors import DriftlineError, RolloutError, ServingError
from driftline.core.paths import state_dir
from driftline.core.state_db import StateDB
from driftline.datasets.schema import DatasetSchema
from driftline.rollout.spec import RolloutSpec
from driftline.rollout.traffic import TrafficMode
from driftline.serve_apps.admin import AdminAuth
from driftline.serve_apps.assignment import assign_variant, shadow_selected
from driftline.serve_apps.feedback import parse_feedback
from driftline.serve_apps.feedback_token import FeedbackSigner, load_secret
from driftline.serve_apps.metrics import RouterMetrics
from driftline.serve_apps.model_deployment import ModelNotReady
from driftline.serve_apps.payload import PayloadError, parse_records
from driftline.serve_apps.serving_state import ServingState, ServingStateStore
from driftline.serve_apps.shadow import ShadowMirror
from driftline.serve_apps.window import TrafficWindow

__all__ = ["Router", "api"]

api = FastAPI(
    title="driftline",
    description="Predictions from the champion model, with shadow, A/B and canary rollout of candidates.",
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


def _client_request_id(request: Request) -> str | None:
    """The client's own ``X-Request-Id`` (kept for its tracing, never a key: the router issues the key)."""
    value = request.headers.get("x-request-id")
    return value[:200] if value else None


def _cause(err: BaseException) -> BaseException:
    """The user-level exception inside a Ray task error (whose str() carries a remote traceback)."""
    return getattr(err, "cause", None) or err


def _error(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, **extra}}, status_code=status)


async def _json(request: Request, max_bytes: int) -> Any:
    """The parsed body; its size is checked before (and while) reading, and it is parsed off the event loop."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise PayloadError(413, "body_too_large", f"The body has {declared} bytes; the limit is {max_bytes}.")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise PayloadError(413, "body_too_large", f"The body exceeds the limit of {max_bytes} bytes.")
    try:
        return await asyncio.to_thread(json.loads, bytes(body))
    except (ValueError, RecursionError):  # RecursionError: JSON nested thousands deep
        raise PayloadError(400, "bad_json", "The body is not valid JSON (or nests too deep).") from None


# "unavailable": the label could not be made durable (e.g. a full disk); nothing was recorded, retry later.
_FEEDBACK_STATUS = {
    "accepted": 200,
    "duplicate": 200,
    "bad_token": 403,  # no valid feedback token for this (request_id, row), and no admin bearer token
    "unknown_request_id": 404,
    "conflict": 409,
    "unavailable": 503,
}


@serve.ingress(api)
class Router:
    """Serve ingress deployment class (wrapped with ``serve.deployment`` by the app builder)."""

    def __init__(self, slot_a: Any, slot_b: Any, writer: Any, controller: Any, config: dict[str, Any]) -> None:
        cfg = DriftlineConfig.model_validate(config)
        self._slots = {"a": slot_a, "b": slot_b}
        self._writer, self._controller = writer, controller
        self._model_name = cfg.mlflow.model_name
        self._max_rows = cfg.serve.max_batch_rows
        self._max_body = cfg.serve.max_body_bytes
        self._timeout = cfg.serve.request_timeout_seconds
        self._auth = AdminAuth.from_env(cfg.serve.admin_token)
        self._poll = cfg.serve.poll_seconds
        self._store = ServingStateStore(StateDB(cfg.state_url))
        self._serving: ServingState | None = None
        self._loaded_at = 0.0
        self._schema: DatasetSchema | None = None
        self._window = TrafficWindow()
        self._records: list[dict[str, Any]] = []
        self._pump: asyncio.Task[Any] | None = None
        self._metrics = RouterMetrics()
        self._signer = FeedbackSigner(load_secret(state_dir(cfg.workdir_path)))
        self._shadow = ShadowMirror(
            cfg.serve.shadow_timeout_seconds,
            cfg.serve.shadow_max_in_flight,
            self._window,
            self._metrics,
            lambda rows, request_id, result, latency: self._log(
                rows, request_id, "candidate", "shadow", result, latency
            ),
        )

    # ------------------------------------------------------------------ state, schema, background pump
    async def _state(self) -> ServingState:
        now = time.monotonic()
        if self._serving is None or now - self._loaded_at >= self._poll:
            loaded = self._store.load() or self._serving  # unreadable for a moment: keep the last good one
            if loaded is None:  # the controller writes it on start; ask it once
                loaded = ServingState.from_dict(await self._controller.serving.remote())
            self._serving, self._loaded_at = loaded, now
        if self._pump is None:
            self._pump = asyncio.get_running_loop().create_task(self._pump_forever())
        return self._serving

    async def _get_schema(self, state: ServingState) -> DatasetSchema:
        if self._schema is None:
            info = await self._slots[state.champion_slot].info.remote()
            self._schema = DatasetSchema.from_dict(info["schema"])
        return self._schema

    async def _pump_forever(self) -> None:
        while True:
            await asyncio.sleep(self._poll)
            await self._flush()

    async def _flush(self, wait: bool = False) -> None:
        if self._records:
            records, self._records = self._records, []
            appended = self._writer.append.remote(records)
            if wait:  # calls to one replica may run concurrently: make sure these are indexed before we go on
                await appended
        if not self._window.empty():
            self._controller.observe.remote(self._window.drain())

    def _log(
        self,
        rows: list[dict[str, Any]],
        request_id: str,
        variant: str,
        role: str,
        result: Any,
        latency_s: float,
        client_request_id: str | None = None,
    ) -> None:
        now = time.time()
        for row, (features, pred, proba) in enumerate(zip(rows, result.predictions, result.probabilities, strict=True)):
            self._records.append(
                {
                    "request_id": request_id,
                    "client_request_id": client_request_id or "",  # one string type in every file
                    "row": row,
                    "timestamp": now,
                    "model_name": self._model_name,
                    "model_version": result.model_version,
                    "variant": variant,
                    "role": role,
                    **features,
                    "prediction": int(pred),
                    "probabilities": proba,
                    "latency_ms": latency_s * 1000.0,
                }
            )

    # ------------------------------------------------------------------ prediction
    async def _call(self, state: ServingState, variant: str, rows: list[dict[str, Any]]) -> Any:
        """The slot's answer; a timeout or a non-finite probability is an error of the variant that answered."""
        slot = state.champion_slot if variant == "champion" else state.candidate_slot
        version = state.traffic.champion_version if variant == "champion" else state.traffic.candidate_version
        result = await asyncio.wait_for(self._slots[slot].predict.remote(rows, version), self._timeout)
        if not all(math.isfinite(p) for proba in result.probabilities for p in proba):
            raise ServingError(f"Version {result.model_version} answered non-finite probabilities.")
        return result

    async def _answer(
        self, state: ServingState, variant: str, rows: list[dict[str, Any]], headers: dict[str, str]
    ) -> tuple[str, Any, float] | JSONResponse:
        """(variant that answered, result, latency); a failing or slow candidate counts against it and the champion
        answers instead; a failing champion is a 503 (504 when it timed out), counted, never logged as served."""
        started = time.perf_counter()
        try:
            return variant, await self._call(state, variant, rows), time.perf_counter() - started
        except Exception as exc:
            failed = exc
        if variant == "candidate":
            if not isinstance(failed, ModelNotReady):  # a real candidate failure (or timeout) counts against it
                self._window.record("candidate", time.perf_counter() - started, error=True)
                self._metrics.observe("candidate", "served", time.perf_counter() - started, error=True)
            headers["X-Fallback"] = "candidate-unavailable"
            started = time.perf_counter()
            try:
                return "champion", await self._call(state, "champion", rows), time.perf_counter() - started
            except Exception as exc:
                failed = exc
        self._window.record("champion", time.perf_counter() - started, error=True)
        self._metrics.observe("champion", "served", time.perf_counter() - started, error=True)
        if isinstance(failed, asyncio.TimeoutError):
            return _error(504, "model_timeout", f"The champion did not answer within {self._timeout:g} s.")
        return _error(503, "model_unavailable", f"The champion could not answer: {type(failed).__name__}.")

    @api.post("/predict", summary="Predict a batch", openapi_extra=_PREDICT_DOC)
    async def predict(self, request: Request) -> JSONResponse:
        request_id, client_id = uuid.uuid4().hex, _client_request_id(request)
        try:
            state = await self._state()
            rows = parse_records(await _json(request, self._max_body), await self._get_schema(state), self._max_rows)
        except PayloadError as err:
            return JSONResponse({**err.to_json(), "request_id": request_id}, status_code=err.status)
        traffic = state.traffic
        variant = "champion"
        if traffic.mode in (TrafficMode.AB, TrafficMode.CANARY) and traffic.candidate_version:
            key = request.headers.get("x-user-id") or request_id
            variant = assign_variant(traffic.salt, key, traffic.candidate_weight)
        headers: dict[str, str] = {}
        answered = await self._answer(state, variant, rows, headers)
        if isinstance(answered, JSONResponse):
            return answered
        variant, result, latency = answered
        self._window.record(variant, latency)
        self._metrics.observe(variant, "served", latency)
        self._log(rows, request_id, variant, "served", result, latency, client_id)
        mirrored = traffic.mode is TrafficMode.SHADOW and traffic.candidate_version
        if mirrored and shadow_selected(traffic.salt, request_id, traffic.shadow_fraction):
            self._shadow.start(lambda r: self._call(state, "candidate", r), rows, request_id, result)
        headers.update(
            {"X-Model-Version": result.model_version, "X-Variant": variant, "X-Driftline-Request-Id": request_id}
        )
        body = {
            "request_id": request_id,
            "client_request_id": client_id,
            "feedback_tokens": [self._signer.sign(request_id, row) for row in range(len(rows))],
            "predictions": result.predictions,
            "probabilities": result.probabilities,
            "model_version": result.model_version,
            "variant": variant,
        }
        return JSONResponse(body, headers=headers)

    # ------------------------------------------------------------------ feedback
    @api.post("/feedback", summary="Labels for earlier predictions: {request_id, label[, row]} or {items: [...]}")
    async def feedback(self, request: Request) -> JSONResponse:
        try:
            state = await self._state()
            body = await _json(request, self._max_body)
            items, single = parse_feedback(body, (await self._get_schema(state)).classes)
        except PayloadError as err:
            return JSONResponse(err.to_json(), status_code=err.status)
        trusted = self._auth.check(request.headers.get("authorization"))
        signed = [trusted or self._signer.verify(i["request_id"], i["row"], i.get("token")) for i in items]
        refused = {
            index: {"request_id": item["request_id"], "row": item["row"], "status": "bad_token"}
            for index, (item, ok) in enumerate(zip(items, signed, strict=True))
            if not ok
        }
        await self._flush(wait=True)  # our buffered predictions must be in the writer's index before labels join
        accepted = [item for index, item in enumerate(items) if index not in refused]
        judged = iter(await self._writer.feedback.remote(accepted, time.time()) if accepted else [])
        outcomes = [refused[index] if index in refused else next(judged) for index in range(len(items))]
        versions = {"champion": state.traffic.champion_version, "candidate": state.traffic.candidate_version}
        for outcome in outcomes:
            for scored in outcome.get("scored", ()):
                # A label counts for the rollout only while the version that answered still holds its variant.
                if versions.get(scored["variant"]) == scored["model_version"]:
                    self._window.label(scored["variant"], scored["correct"])
        if single:
            outcome = outcomes[0]
            status = _FEEDBACK_STATUS[outcome["status"]]
            return JSONResponse(outcome, status_code=status)
        counts: dict[str, int] = {}
        for outcome in outcomes:
            counts[outcome["status"]] = counts.get(outcome["status"], 0) + 1
        return JSONResponse({"results": outcomes, "counts": counts})

    # ------------------------------------------------------------------ health and rollout admin
    @api.get("/healthz", summary="Liveness and the versions being served")
    async def healthz(self) -> dict[str, Any]:
        state = await self._state()
        info = await self._slots[state.champion_slot].info.remote()
        health = {"status": "ok", "champion_version": info["version"], "mode": state.traffic.mode.value}
        if state.traffic.candidate_version is not None:
            try:
                candidate = await self._slots[state.candidate_slot].info.remote()
                health["candidate_loaded"] = candidate["version"]
            except Exception:
                health["candidate_loaded"] = None
        logs = await self._writer.health.remote()
        health["logs"] = logs
        if logs["status"] != "ok":  # serving still answers; labels or log rows may be refused until it recovers
            health["status"] = "degraded"
        return health

    @api.get("/rollout", summary="Rollout state, serving state and the transition history (open to read)")
    async def rollout_status(self) -> dict[str, Any]:
        status: dict[str, Any] = await self._controller.status.remote()
        return status

    def _refuse(self, request: Request) -> JSONResponse | None:
        """The 403/401 answer when the caller may not use the admin API; None when it may."""
        if not self._auth.enabled:
            return _error(403, "admin_disabled", "The admin API is disabled: set DRIFTLINE_ADMIN_TOKEN for Serve.")
        if not self._auth.check(request.headers.get("authorization")):
            response = _error(401, "unauthorized", "Send 'Authorization: Bearer <admin token>'.")
            response.headers["WWW-Authenticate"] = "Bearer"
            return response
        return None

    async def _admin(self, request: Request, operation: str, *args: Any) -> JSONResponse:
        refused = self._refuse(request)
        if refused is not None:
            return refused
        try:
            result = await getattr(self._controller, operation).remote(*args)
        except RolloutError as err:
            return _error(409, "rollout_conflict", str(_cause(err)))
        except DriftlineError as err:
            return _error(422, "invalid_rollout", str(_cause(err)))
        await self._state()
        self._loaded_at = 0.0  # re-read serving state on the next request
        return JSONResponse(result)

    @api.post("/rollout", summary="Start a rollout (admin): a RolloutSpec {mode, candidate_version, ...}")
    async def rollout_start(self, request: Request, force: bool = False) -> JSONResponse:
        refused = self._refuse(request)  # authenticate before reading or validating anything
        if refused is not None:
            return refused
        try:
            body = await _json(request, self._max_body)
            spec = RolloutSpec.model_validate(body).model_dump(mode="json")
        except PayloadError as err:
            return JSONResponse(err.to_json(), status_code=err.status)
        except ValidationError as err:  # validated here: pydantic errors do not cross Ray workers intact
            first = err.errors()[0]
            field = ".".join(str(p) for p in first["loc"])
            return _error(422, "invalid_rollout", f"{field}: {first['msg']} (got {first.get('input')!r})", field=field)
        return await self._admin(request, "start", spec, force)

    @api.post("/rollout/promote", summary="Promote the candidate now (admin)")
    async def rollout_promote(self, request: Request) -> JSONResponse:
        return await self._admin(request, "promote", "manual promote via API")

    @api.post("/rollout/abort", summary="Abort and send all traffic to the champion (admin)")
    async def rollout_abort(self, request: Request) -> JSONResponse:
        return await self._admin(request, "abort", "manual abort via API")

    async def __del__(self) -> None:
        await self._flush()
