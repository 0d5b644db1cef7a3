"""The ingress: validates requests, routes them to the champion or the candidate, logs every prediction.

Endpoints: ``POST /predict``, ``POST /feedback``, ``GET /healthz``, ``GET /rollout`` and the admin operations
``POST /rollout``, ``POST /rollout/promote``, ``POST /rollout/abort`` (bearer token), OpenAPI at ``/docs``.
Modes come from the serving state (see ``serving_state.py``): none, shadow (candidate mirrored off the user's
path), ab and canary (sticky hash buckets on ``X-User-Id`` or the request id). The model's versions run in this
replica (placement ``inline``) or in slot deployments (``remote``): ``placement.py``; what a request does to one
model is ``served_model.py``.
"""

# No `from __future__ import annotations` here: FastAPI must see real types after Serve rewrites signatures.

import asyncio
import contextlib
import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import ValidationError
from ray import serve

from driftline import __version__
from driftline.core.config import DriftlineConfig
from driftline.core.errors import DriftlineError, RolloutError
from driftline.core.paths import state_dir
from driftline.core.state_db import StateDB, StateStoreError
from driftline.datasets.schema import DatasetSchema
from driftline.model.registry import CHAMPION, ModelRegistry
from driftline.rollout.spec import RolloutSpec
from driftline.serve_apps.admin import AdminAuth
from driftline.serve_apps.assignment import route
from driftline.serve_apps.feedback import FeedbackStatus, parse_feedback
from driftline.serve_apps.feedback_token import FeedbackSigner, load_secret
from driftline.serve_apps.http_io import cause, client_request_id, error, read_json, validation_error
from driftline.serve_apps.log_buffer import LogBuffer
from driftline.serve_apps.metrics import RouterMetrics
from driftline.serve_apps.model_host import ModelHost
from driftline.serve_apps.openapi import serving_openapi
from driftline.serve_apps.outcomes import Outcomes
from driftline.serve_apps.payload import PayloadError, parse_records
from driftline.serve_apps.placement import InlinePlacement, Placement, RemotePlacement
from driftline.serve_apps.request_ids import new_request_id
from driftline.serve_apps.served_model import ChampionFailed, ServedModel
from driftline.serve_apps.serving_state import ServingState, ServingStateStore

__all__ = ["Router", "api"]

api = FastAPI(
    title="driftline",
    description="Predictions from the champion model, with shadow, A/B and canary rollout of candidates.",
    version=__version__,
    openapi_url=None,  # served by the router itself, made strict from the model's table schema (openapi.py)
    docs_url=None,
    redoc_url=None,
)


@api.exception_handler(RequestValidationError)
async def _invalid_parameters(_request: Request, exc: RequestValidationError) -> JSONResponse:
    """FastAPI's own checks (query parameters) answer in the API's one error shape."""
    return validation_error("invalid_parameter", exc.errors())


@serve.ingress(api)
class Router:
    """Serve ingress deployment class (wrapped with ``serve.deployment`` by the app builder). ``slot_a``/``slot_b``
    are the slot deployments' handles for placement ``remote``, None for ``inline``."""

    def __init__(self, slot_a: Any, slot_b: Any, writer: Any, controller: Any, config: dict[str, Any]) -> None:
        cfg = DriftlineConfig.model_validate(config)
        self._writer, self._controller = writer, controller
        self._max_rows = cfg.serve.max_batch_rows
        self._max_body = cfg.serve.max_body_bytes
        self._auth = AdminAuth.from_env(cfg.serve.admin_token)
        self._poll = cfg.serve.poll_seconds
        self._timeout = cfg.serve.request_timeout_seconds
        self._log = LogBuffer(writer)
        self._pump: asyncio.Task[Any] | None = None
        self._signer = FeedbackSigner(load_secret(state_dir(cfg.workdir_path)))
        self._openapi: tuple[DatasetSchema, dict[str, Any]] | None = None  # (the schema it describes, the document)
        store = ServingStateStore(StateDB(cfg.state_url))
        placement: Placement
        state = None
        if slot_a is None:  # inline: the champion is loaded before this replica takes traffic
            inline = InlinePlacement(ModelHost(cfg))
            state = store.load() or ServingState.initial(ModelRegistry(cfg).resolve(f"@{CHAMPION}"))
            inline.hold_now(state)
            placement = inline
        else:
            placement = RemotePlacement(slot_a, slot_b)
        outcomes = Outcomes(cfg.mlflow.model_name, RouterMetrics())
        self._model = ServedModel(
            cfg.mlflow.model_name, placement, store, controller, self._log, outcomes, cfg.serve, state
        )

    # ------------------------------------------------------------------ background poll
    async def _state(self) -> ServingState:
        if self._pump is None:
            self._pump = asyncio.get_running_loop().create_task(self._pump_forever())
        return await self._model.current()

    async def _pump_forever(self) -> None:
        while True:
            await asyncio.sleep(self._poll)
            with contextlib.suppress(Exception):  # a failed round (the database down) is tried again
                await self._model.refresh()
            with contextlib.suppress(Exception):  # the records stay buffered for the next round
                await self._log.flush()

    async def check_health(self) -> None:
        """Serve's health check (every few seconds): it also starts the background poll on an idle replica, so its
        models follow the serving state before its first request."""
        await self._state()

    # ------------------------------------------------------------------ prediction
    @api.post("/predict", summary="Predict a batch: {instances}, {dataframe_records} or {dataframe_split}")
    async def predict(self, request: Request) -> JSONResponse:
        request_id, client_id = new_request_id(time.time()), client_request_id(request)
        state = await self._state()
        try:
            schema = await self._model.schema(state)
        except Exception as exc:  # the first request after a start or a promotion can beat the model's load
            response = error(503, "model_unavailable", f"The champion is not ready: {type(exc).__name__}; retry.")
            response.headers["Retry-After"] = "1"
            return response
        try:
            rows = parse_records(await read_json(request, self._max_body), schema, self._max_rows)
        except PayloadError as err:
            return JSONResponse({**err.to_json(), "request_id": request_id}, status_code=err.status)
        chosen = route(state.traffic, request.headers.get("x-user-id"), request_id)
        try:
            answered = await self._model.serve(state, chosen, rows, request_id, client_id)
        except ChampionFailed as failed:
            return error(504 if failed.timed_out else 503, "model_timeout" if failed.timed_out else "model_unavailable",
                         str(failed))  # fmt: skip
        result, variant = answered.result, answered.variant.value
        headers = {"X-Model-Version": result.model_version, "X-Variant": variant, "X-Driftline-Request-Id": request_id}
        if answered.fallback:
            headers["X-Fallback"] = "candidate-unavailable"
        body = {
            "request_id": request_id,
            "client_request_id": client_id,
            "feedback_tokens": [self._signer.sign(request_id, row) for row in range(len(rows))],
            "predictions": result.predictions,
            "probabilities": result.probabilities,
            "model_version": result.model_version,
            "variant": variant,
        }
        if schema.is_regression:  # numbers, no class probabilities
            del body["probabilities"]
        return JSONResponse(body, headers=headers)

    # ------------------------------------------------------------------ feedback
    @api.post("/feedback", summary="Labels for earlier predictions: {request_id, label[, row]} or {items: [...]}")
    async def feedback(self, request: Request) -> JSONResponse:
        try:
            state = await self._state()
            body = await read_json(request, self._max_body)
            schema = await self._model.schema(state)
            items, single = parse_feedback(body, schema.classes, regression=schema.is_regression)
        except PayloadError as err:
            return JSONResponse(err.to_json(), status_code=err.status)
        trusted = self._auth.check(request.headers.get("authorization"))
        signed = [trusted or self._signer.verify(i["request_id"], i["row"], i.get("token")) for i in items]
        refused = {
            index: {"request_id": item["request_id"], "row": item["row"], "status": FeedbackStatus.BAD_TOKEN.value}
            for index, (item, ok) in enumerate(zip(items, signed, strict=True))
            if not ok
        }
        accepted = [item for index, item in enumerate(items) if index not in refused]
        try:
            await self._log.flush(wait=True)  # our buffered predictions must be in the writer's index before labels
            judged = iter(await self._writer.feedback.remote(accepted, time.time()) if accepted else [])
        except Exception as exc:  # the writer is unreachable (e.g. its replica died): retry; a retry is idempotent
            return error(503, "unavailable", f"The label log cannot be reached ({type(exc).__name__}); retry.")
        outcomes = [refused[index] if index in refused else next(judged) for index in range(len(items))]
        scored = [score for outcome in outcomes for score in outcome.get("scored", ())]
        self._model.labelled(state, scored, schema.is_regression)
        if single:
            outcome = outcomes[0]
            status = FeedbackStatus(outcome["status"]).http_status
            return JSONResponse(outcome, status_code=status)
        counts: dict[str, int] = {}
        for outcome in outcomes:
            counts[outcome["status"]] = counts.get(outcome["status"], 0) + 1
        return JSONResponse({"results": outcomes, "counts": counts})

    # ------------------------------------------------------------------ health and rollout admin
    @api.get("/healthz", summary="Liveness and the versions being served")
    async def healthz(self) -> dict[str, Any]:
        state = await self._state()
        health = {"status": "ok", "champion_version": state.traffic.champion_version, "mode": state.traffic.mode.value}
        health.update(await self._model.placement.health(state))
        if not health["champion_loaded"]:  # requests answer 503 until it is
            health["status"] = "degraded"
        logs = await self._writer.health.remote()
        health["logs"] = logs
        if logs["status"] != "ok":  # serving still answers; labels or log rows may be refused until it recovers
            health["status"] = "degraded"
        if self._model.state_problem:  # serving still answers, from the last state it read
            health["status"], health["state"] = "degraded", self._model.state_problem
        return health

    @api.get("/rollout", summary="Rollout state, serving state and the transition history (open to read)")
    async def rollout_status(self) -> Any:
        try:
            status: dict[str, Any] = await self._controller.status.remote()
        except StateStoreError as err:
            return error(503, "state_unavailable", str(cause(err)))
        return status

    @api.get("/rollout/history", summary="Which version held an alias (default champion) at a time, since when, why")
    async def rollout_history(self, alias: str = "champion", at: str | None = None) -> Any:
        from driftline.core.alias_history import parse_time

        try:
            when = parse_time(at) if at is not None else None
        except DriftlineError as err:
            return error(422, "bad_time", str(cause(err)))
        try:
            answer: dict[str, Any] = await self._controller.history.remote(alias, when)
        except StateStoreError as err:
            return error(503, "state_unavailable", str(cause(err)))
        return answer

    def _refuse(self, request: Request) -> JSONResponse | None:
        """The 403/401 answer when the caller may not use the admin API; None when it may."""
        if not self._auth.enabled:
            return error(403, "admin_disabled", "The admin API is disabled: set DRIFTLINE_ADMIN_TOKEN for Serve.")
        if not self._auth.check(request.headers.get("authorization")):
            response = error(401, "unauthorized", "Send 'Authorization: Bearer <admin token>'.")
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
            return error(409, "rollout_conflict", str(cause(err)))
        except StateStoreError as err:
            return error(503, "state_unavailable", str(cause(err)))
        except DriftlineError as err:
            return error(422, "invalid_rollout", str(cause(err)))
        with contextlib.suppress(Exception):  # re-read the serving state now (else at the next poll)
            await self._model.refresh()
        return JSONResponse(result)

    @api.post("/rollout", summary="Start a rollout (admin): a RolloutSpec {mode, candidate_version, ...}")
    async def rollout_start(self, request: Request, force: bool = False) -> JSONResponse:
        refused = self._refuse(request)  # authenticate before reading or validating anything
        if refused is not None:
            return refused
        try:
            body = await read_json(request, self._max_body)
            spec = RolloutSpec.model_validate(body).model_dump(mode="json")
        except PayloadError as err:
            return JSONResponse(err.to_json(), status_code=err.status)
        except ValidationError as err:  # validated here: pydantic errors do not cross Ray workers intact
            return validation_error("invalid_rollout", err.errors())
        return await self._admin(request, "start", spec, force)

    @api.post("/rollout/promote", summary="Promote the candidate now (admin)")
    async def rollout_promote(self, request: Request) -> JSONResponse:
        return await self._admin(request, "promote", "manual promote via API")

    @api.post("/rollout/abort", summary="Abort and send all traffic to the champion (admin)")
    async def rollout_abort(self, request: Request) -> JSONResponse:
        return await self._admin(request, "abort", "manual abort via API")

    # ------------------------------------------------------------------ the API's own description
    @api.get("/openapi.json", include_in_schema=False)
    async def openapi(self) -> JSONResponse:
        """The OpenAPI document with the served model's features, types and classes (see ``openapi.py``)."""
        schema = await self._model.schema(await self._state())
        if self._openapi is None or self._openapi[0] is not schema:  # it describes the champion's schema
            base = get_openapi(title=api.title, version=api.version, description=api.description, routes=api.routes)
            self._openapi = (schema, serving_openapi(base, schema, max_rows=self._max_rows))
        return JSONResponse(self._openapi[1])

    @api.get("/docs", include_in_schema=False)
    async def docs(self, request: Request) -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=f"{request.scope.get('root_path', '')}/openapi.json", title=api.title)

    async def __del__(self) -> None:
        with contextlib.suppress(Exception):  # the writer may be going away too: what it cannot take is lost anyway
            await asyncio.wait_for(self._log.flush(wait=True), self._timeout)
