"""The ingress: validates requests, routes them to the champion or candidate slot, logs every prediction.

Endpoints: ``POST /predict``, ``POST /feedback``, ``GET /healthz``, ``GET /rollout`` and the admin operations
``POST /rollout``, ``POST /rollout/promote``, ``POST /rollout/abort`` (bearer token), OpenAPI at ``/docs``.
Modes come from the serving state (see ``serving_state.py``): none, shadow (candidate mirrored off the user's
path), ab and canary (sticky hash buckets on ``X-User-Id`` or the request id).
"""

# No `from __future__ import annotations` here: FastAPI must see real types after Serve rewrites signatures.

import asyncio
import contextlib
import math
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
from driftline.core.errors import DriftlineError, RolloutError, ServingError
from driftline.core.paths import state_dir
from driftline.core.state_db import StateDB, StateStoreError
from driftline.datasets.schema import DatasetSchema
from driftline.rollout.spec import RolloutSpec
from driftline.rollout.traffic import TrafficMode
from driftline.serve_apps.admin import AdminAuth
from driftline.serve_apps.assignment import assign_variant, shadow_selected
from driftline.serve_apps.feedback import FeedbackStatus, parse_feedback
from driftline.serve_apps.feedback_token import FeedbackSigner, load_secret
from driftline.serve_apps.http_io import cause, client_request_id, error, read_json, validation_error
from driftline.serve_apps.log_writer_replica import append_calls
from driftline.serve_apps.metrics import RouterMetrics
from driftline.serve_apps.model_deployment import ModelNotReady
from driftline.serve_apps.openapi import serving_openapi
from driftline.serve_apps.payload import PayloadError, parse_records
from driftline.serve_apps.request_ids import new_request_id
from driftline.serve_apps.serving_state import ServingState, ServingStateStore
from driftline.serve_apps.shadow import ShadowMirror
from driftline.serve_apps.window import TrafficWindow

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
    """Serve ingress deployment class (wrapped with ``serve.deployment`` by the app builder)."""

    def __init__(self, slot_a: Any, slot_b: Any, writer: Any, controller: Any, config: dict[str, Any]) -> None:
        cfg = DriftlineConfig.model_validate(config)
        # Predictions travel to the model slots over Serve's direct gRPC channel, not as Ray actor calls
        # (``_by_reference=False``): 20-25% less server CPU per request (benchmarks/serve_overhead.py).
        self._slots = {"a": slot_a.options(_by_reference=False), "b": slot_b.options(_by_reference=False)}
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
        self._state_problem: str | None = None  # why the last read of the serving state failed, if it did
        self._schema: DatasetSchema | None = None
        self._schema_version: str | None = None  # the champion version the schema was read from
        self._openapi: dict[str, Any] | None = None
        self._window = TrafficWindow()
        self._records: list[dict[str, Any]] = []
        self._appends: set[asyncio.Task[None]] = set()  # appends to the writer not yet answered
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
            try:  # off the event loop: a database round trip
                loaded = await asyncio.to_thread(self._store.load) or self._serving
                self._state_problem = self._store.problem
            except StateStoreError as exc:  # the state database is down: keep serving the last good state
                if self._serving is None:
                    raise
                loaded, self._state_problem = self._serving, str(exc)
            if loaded is None:  # the controller writes it on start; ask it once
                loaded = ServingState.from_dict(await self._controller.serving.remote())
            self._serving, self._loaded_at = loaded, now
        if self._pump is None:
            self._pump = asyncio.get_running_loop().create_task(self._pump_forever())
        return self._serving

    async def _get_schema(self, state: ServingState) -> DatasetSchema:
        """The champion's table schema (requests and labels are validated against it), read again whenever the
        champion changes: a promoted version may have new classes or features."""
        if self._schema is None or self._schema_version != state.traffic.champion_version:
            info = await self._slots[state.champion_slot].info.remote()
            self._schema, self._schema_version = DatasetSchema.from_dict(info["schema"]), str(info["version"])
            self._openapi = None  # it describes the schema
        return self._schema

    async def _pump_forever(self) -> None:
        while True:
            await asyncio.sleep(self._poll)
            await self._flush()

    async def _flush(self, wait: bool = False) -> None:
        """Hand the buffered prediction records to the writer. With ``wait``, return once every record logged so far
        is in the writer's index: ours and those of appends already in flight (the pump's, another request's), for
        calls to one replica may run concurrently and a label must not reach the writer before its prediction."""
        if self._records:
            records, self._records = self._records, []
            for chunk in append_calls(records):  # bounded calls: the writer's memory stays flat
                task = asyncio.get_running_loop().create_task(self._append(chunk))
                self._appends.add(task)
                task.add_done_callback(self._append_done)
        if wait and self._appends:
            # A failed append raises here: the labels are refused, not lost. Shielded: a waiter cancelled (its client
            # gave up while the writer was down) must not cancel the appends, whose rows would then be dropped.
            await asyncio.gather(*(asyncio.shield(task) for task in list(self._appends)))
        if not self._window.empty():
            self._controller.observe.remote(self._window.drain())

    async def _append(self, records: list[dict[str, Any]]) -> None:
        """If the call fails in any way (the writer's replica died during it, no replica was available, the call was
        cancelled), the records go back to the buffer for the next flush, never dropped; the writer skips rows it
        already holds (it may have taken them before it died), so sending them again duplicates nothing."""
        try:
            await self._writer.append.remote(records)
        except BaseException:
            self._records[:0] = records
            raise

    def _append_done(self, task: asyncio.Task[None]) -> None:
        self._appends.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: a failure of the pump's append is handled by putting the records back

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
                    "prediction": pred,
                    "probabilities": proba or None,  # a regression model has none
                    "latency_ms": latency_s * 1000.0,
                }
            )

    # ------------------------------------------------------------------ prediction
    async def _call(self, state: ServingState, variant: str, rows: list[dict[str, Any]]) -> Any:
        """The slot's answer; a timeout, a non-finite probability or a non-finite regression prediction is an error
        of the variant that answered."""
        slot = state.champion_slot if variant == "champion" else state.candidate_slot
        version = state.traffic.champion_version if variant == "champion" else state.traffic.candidate_version
        result = await asyncio.wait_for(self._slots[slot].predict.remote(rows, version), self._timeout)
        if not all(math.isfinite(p) for proba in result.probabilities for p in proba):
            raise ServingError(f"Version {result.model_version} answered non-finite probabilities.")
        numbers = [p for p in result.predictions if isinstance(p, float)]
        if not all(math.isfinite(p) for p in numbers):
            raise ServingError(f"Version {result.model_version} answered non-finite predictions.")
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
            return error(504, "model_timeout", f"The champion did not answer within {self._timeout:g} s.")
        return error(503, "model_unavailable", f"The champion could not answer: {type(failed).__name__}.")

    @api.post("/predict", summary="Predict a batch: {instances}, {dataframe_records} or {dataframe_split}")
    async def predict(self, request: Request) -> JSONResponse:
        request_id, client_id = new_request_id(time.time()), client_request_id(request)
        state = await self._state()
        try:
            schema = await self._get_schema(state)
        except Exception as exc:  # the first request after a start or a promotion can beat the model's load
            response = error(503, "model_unavailable", f"The champion is not ready: {type(exc).__name__}; retry.")
            response.headers["Retry-After"] = "1"
            return response
        try:
            rows = parse_records(await read_json(request, self._max_body), schema, self._max_rows)
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
        if schema.is_regression:  # numbers, no class probabilities
            del body["probabilities"]
        return JSONResponse(body, headers=headers)

    # ------------------------------------------------------------------ feedback
    @api.post("/feedback", summary="Labels for earlier predictions: {request_id, label[, row]} or {items: [...]}")
    async def feedback(self, request: Request) -> JSONResponse:
        try:
            state = await self._state()
            body = await read_json(request, self._max_body)
            schema = await self._get_schema(state)
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
            await self._flush(wait=True)  # our buffered predictions must be in the writer's index before labels join
            judged = iter(await self._writer.feedback.remote(accepted, time.time()) if accepted else [])
        except Exception as exc:  # the writer is unreachable (e.g. its replica died): retry; a retry is idempotent
            return error(503, "unavailable", f"The label log cannot be reached ({type(exc).__name__}); retry.")
        outcomes = [refused[index] if index in refused else next(judged) for index in range(len(items))]
        versions = {"champion": state.traffic.champion_version, "candidate": state.traffic.candidate_version}
        for outcome in outcomes:
            for scored in outcome.get("scored", ()):
                # A label counts for the rollout only while the version that answered still holds its variant.
                if versions.get(scored["variant"]) == scored["model_version"]:
                    abs_error = scored.get("abs_error") if schema.is_regression else None
                    self._window.label(scored["variant"], scored["correct"], abs_error)
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
        if self._state_problem:  # serving still answers, from the last state it read
            health["status"], health["state"] = "degraded", self._state_problem
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
        await self._state()
        self._loaded_at = 0.0  # re-read serving state on the next request
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
        if self._openapi is None:
            schema = await self._get_schema(await self._state())
            base = get_openapi(title=api.title, version=api.version, description=api.description, routes=api.routes)
            self._openapi = serving_openapi(base, schema, max_rows=self._max_rows)
        return JSONResponse(self._openapi)

    @api.get("/docs", include_in_schema=False)
    async def docs(self, request: Request) -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=f"{request.scope.get('root_path', '')}/openapi.json", title=api.title)

    async def __del__(self) -> None:
        with contextlib.suppress(Exception):  # the writer may be going away too: what it cannot take is lost anyway
            await asyncio.wait_for(self._flush(wait=True), self._timeout)
