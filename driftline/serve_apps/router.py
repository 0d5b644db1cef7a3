"""The ingress: validates requests, routes them to a model's champion or candidate, logs every prediction.

Every model served has ``POST /models/{name}/predict``, ``POST /models/{name}/feedback``, ``GET /models/{name}/rollout``
and the admin operations ``POST /models/{name}/rollout``, ``.../rollout/promote``, ``.../rollout/abort`` (bearer
token), and the Open Inference Protocol's ``/v2/models/{name}/...`` (``v2_protocol.py``). When one model is served,
the same routes without the ``/models/{name}`` prefix (``/predict``, ``/feedback``, ``/rollout``...) are its own;
``GET /healthz``; OpenAPI at ``/docs``.
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
from driftline.core.config import ServedModel as ServedModelConfig
from driftline.core.errors import DriftlineError, RolloutError, ServingError
from driftline.core.paths import state_dir
from driftline.core.state_db import Document, StateDB, StateStoreError, model_state
from driftline.datasets.schema import DatasetSchema
from driftline.model.registry import CHAMPION, ModelRegistry
from driftline.rollout.spec import RolloutSpec
from driftline.serve_apps.admin import AdminAuth
from driftline.serve_apps.assignment import route
from driftline.serve_apps.feedback import FeedbackStatus, item_key, parse_feedback
from driftline.serve_apps.feedback_token import FeedbackSigner, load_secret
from driftline.serve_apps.http_io import (
    RouteRefusal,
    cause,
    client_request_id,
    error,
    read_body,
    read_json,
    v2_error,
    validation_error,
)
from driftline.serve_apps.log_buffer import LogBuffer
from driftline.serve_apps.metrics import RouterMetrics
from driftline.serve_apps.model_host import ModelHost
from driftline.serve_apps.openapi import serving_openapi
from driftline.serve_apps.outcomes import Outcomes
from driftline.serve_apps.payload import PayloadError, parse_rows
from driftline.serve_apps.placement import InlinePlacement, Placement, RemotePlacement
from driftline.serve_apps.request_ids import new_request_id
from driftline.serve_apps.served_model import ChampionFailed, ServedModel
from driftline.serve_apps.serving_state import ServingState, ServingStateStore
from driftline.serve_apps.v2_protocol import V2Error, infer_response, model_metadata, parse_infer

__all__ = ["Router", "api"]

V2_METADATA = "Open Inference Protocol: a model's inputs and outputs (one tensor per feature)"
V2_INFER = "Open Inference Protocol: predict (JSON or binary tensors); routed and logged like /predict"

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
    """Serve ingress deployment class (wrapped with ``serve.deployment`` by the app builder). ``slots`` maps each
    model with placement ``remote`` to its two slot deployments' handles; the others are held inline."""

    def __init__(self, slots: dict[str, tuple[Any, Any]], writer: Any, controller: Any, config: dict[str, Any]) -> None:
        cfg = DriftlineConfig.model_validate(config)
        self._writer, self._controller = writer, controller
        self._max_rows = cfg.serve.max_batch_rows
        self._max_body = cfg.serve.max_body_bytes
        self._auth = AdminAuth.from_env(cfg.serve.admin_token)
        self._labeller = AdminAuth.labeller_from_env(cfg.serve.labeller_token)
        self._poll = cfg.serve.poll_seconds
        self._timeout = cfg.serve.request_timeout_seconds
        self._log = LogBuffer(writer)
        self._pump: asyncio.Task[Any] | None = None
        self._signer = FeedbackSigner(load_secret(state_dir(cfg.workdir_path)))
        self._openapi: dict[str, tuple[DatasetSchema, dict[str, Any]]] = {}  # model -> (its schema, the document)
        metrics = RouterMetrics()
        self._state_db = StateDB(cfg.state_url)  # every model's documents, read together by the background poll
        self._models = {m.name: self._served(cfg, m, slots.get(m.name), metrics) for m in cfg.served_models()}

    def _served(
        self, cfg: DriftlineConfig, model: ServedModelConfig, slots: Any, metrics: RouterMetrics
    ) -> ServedModel:
        mcfg = cfg.for_model(model)
        store = ServingStateStore(model_state(mcfg))
        placement: Placement
        state = None
        if slots is None:  # inline: the champion is loaded before this replica takes traffic
            inline = InlinePlacement(ModelHost(mcfg))
            try:
                state = store.load() or ServingState.initial(ModelRegistry(mcfg).resolve(f"@{CHAMPION}"))
                inline.hold_now(state)
            except Exception as exc:  # no champion yet, the database down: this model answers 503, the others serve
                inline.host.load_error = f"{type(exc).__name__}: {exc}"
            placement = inline
        else:
            placement = RemotePlacement(*slots)
        outcomes = Outcomes(model.registered, metrics)
        return ServedModel(model.name, placement, store, self._controller, self._log, outcomes, cfg.serve, state)

    # ------------------------------------------------------------------ background poll
    def _start_pump(self) -> None:
        if self._pump is None:
            self._pump = asyncio.get_running_loop().create_task(self._pump_forever())

    async def _pump_forever(self) -> None:
        while True:
            await asyncio.sleep(self._poll)
            with contextlib.suppress(Exception):  # a failed round (the database down) is tried again
                await self._poll_models()
            with contextlib.suppress(Exception):  # the records stay buffered for the next round
                await self._log.flush()

    async def _poll_models(self) -> None:
        """One read of every model's serving state (one query, whatever the number of models), each model brought
        in line with its own, and one call handing the controller every model's counters."""
        models = list(self._models.values())
        docs: dict[str, Document] = {}
        down: str | None = None
        try:
            docs = await asyncio.to_thread(self._state_db.get_many, [m.store.document for m in models])
        except StateStoreError as exc:
            down = str(exc)
        for model in models:
            with contextlib.suppress(Exception):  # one model's trouble (a failed load) never stops the others
                if down is not None:
                    await model.adopt(None, down, reachable=False)
                else:
                    loaded = model.store.parse(docs.get(model.store.document))
                    await model.adopt(loaded, model.store.problem)
        windows = {m.name: m.outcomes.drain() for m in models if not m.outcomes.empty()}
        if windows:
            self._controller.observe.remote(windows)

    async def check_health(self) -> None:
        """Serve's health check (every few seconds): it also starts the background poll on an idle replica, so its
        models follow the serving state before its first request."""
        self._start_pump()

    def _model(self, name: str | None) -> ServedModel:
        """The model of a route: named, or the one model served for the routes without a name."""
        self._start_pump()
        if name is None:
            if len(self._models) == 1:
                return next(iter(self._models.values()))
            routes = ", ".join(f"/models/{n}/..." for n in sorted(self._models))
            raise RouteRefusal(404, "model_required", f"{len(self._models)} models are served here; use {routes}.")
        model = self._models.get(name)
        if model is None:
            raise RouteRefusal(
                404, "unknown_model", f"No model {name!r} is served here; served: {', '.join(sorted(self._models))}."
            )
        return model

    async def _resolve(self, name: str | None) -> tuple[ServedModel, ServingState, DatasetSchema]:
        """The route's model, its serving state and its champion's schema; :class:`RouteRefusal` when any is
        missing."""
        model = self._model(name)
        state = await self._state(model)
        return model, state, await self._schema(model, state)

    async def _state(self, model: ServedModel) -> ServingState:
        try:
            return await model.current()
        except Exception as exc:
            raise RouteRefusal(
                503, "model_unavailable", f"Model {model.name!r} has no serving state yet: {type(exc).__name__}; retry."
            ) from None

    # ------------------------------------------------------------------ prediction
    @api.post("/predict", summary="Predict a batch: {instances}, {dataframe_records} or {dataframe_split}")
    async def predict(self, request: Request) -> JSONResponse:
        return await self._predict(None, request)

    @api.post("/models/{name}/predict", summary="Predict a batch with one model of the fleet", include_in_schema=False)
    async def predict_model(self, name: str, request: Request) -> JSONResponse:
        return await self._predict(name, request)

    async def _predict(self, name: str | None, request: Request) -> JSONResponse:
        request_id, client_id = new_request_id(time.time()), client_request_id(request)
        try:
            model, state, schema = await self._resolve(name)
            parsed = parse_rows(await read_json(request, self._max_body), schema, self._max_rows)
            rows = parsed.rows
        except RouteRefusal as err:
            return err.response()
        except PayloadError as err:
            return JSONResponse({**err.to_json(), "request_id": request_id}, status_code=err.status)
        chosen = route(state.traffic, request.headers.get("x-user-id"), request_id)
        try:
            answered = await model.serve(state, chosen, rows, request_id, client_id, parsed.ids)
        except ChampionFailed as failed:
            code = "model_timeout" if failed.timed_out else "model_unavailable"
            return error(504 if failed.timed_out else 503, code, str(failed))
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
        if parsed.ids is not None:  # the business keys, as the rows carried them
            body["ids"] = parsed.ids
        if schema.is_regression:  # numbers, no class probabilities
            del body["probabilities"]
        return JSONResponse(body, headers=headers)

    async def _schema(self, model: ServedModel, state: ServingState) -> DatasetSchema:
        try:
            return await model.schema(state)
        except Exception as exc:  # the first request after a start or a promotion can beat the model's load
            raise RouteRefusal(
                503, "model_unavailable", f"The champion of {model.name!r} is not ready: {type(exc).__name__}; retry."
            ) from None

    # ------------------------------------------------------------------ feedback
    @api.post("/feedback", summary="Labels for earlier predictions: {request_id, label[, row]} or {items: [...]}")
    async def feedback(self, request: Request) -> JSONResponse:
        return await self._feedback(None, request)

    @api.post("/models/{name}/feedback", summary="Labels for one model's predictions", include_in_schema=False)
    async def feedback_model(self, name: str, request: Request) -> JSONResponse:
        return await self._feedback(name, request)

    async def _feedback(self, name: str | None, request: Request) -> JSONResponse:
        try:
            model = self._model(name)
            state = await self._state(model)
            body = await read_json(request, self._max_body)
            schema = await self._schema(model, state)
            items, single = parse_feedback(
                body, schema.classes, regression=schema.is_regression, by_id=schema.id_column is not None
            )
        except RouteRefusal as err:
            return err.response()
        except PayloadError as err:
            return JSONResponse(err.to_json(), status_code=err.status)
        header = request.headers.get("authorization")
        trusted = self._auth.check(header) or self._labeller.check(header)
        # A label by business key needs a label pipeline's credential (labeller or admin): ids are guessable.
        signed = [
            trusted or ("request_id" in i and self._signer.verify(i["request_id"], i["row"], i.get("token")))
            for i in items
        ]
        refused = {
            index: {**item_key(item), "status": FeedbackStatus.BAD_TOKEN.value}
            for index, (item, ok) in enumerate(zip(items, signed, strict=True))
            if not ok
        }
        accepted = [{**item, "model": model.registered} for index, item in enumerate(items) if index not in refused]
        try:
            await self._log.flush(wait=True)  # our buffered predictions must be in the writer's index before labels
            judged = iter(await self._writer.feedback.remote(accepted, time.time()) if accepted else [])
        except Exception as exc:  # the writer is unreachable (e.g. its replica died): retry; a retry is idempotent
            return error(503, "unavailable", f"The label log cannot be reached ({type(exc).__name__}); retry.")
        outcomes = [refused[index] if index in refused else next(judged) for index in range(len(items))]
        scored = [score for outcome in outcomes for score in outcome.get("scored", ())]
        model.labelled(state, scored, schema.is_regression)
        if single:
            outcome = outcomes[0]
            status = FeedbackStatus(outcome["status"]).http_status
            return JSONResponse(outcome, status_code=status)
        counts: dict[str, int] = {}
        for outcome in outcomes:
            counts[outcome["status"]] = counts.get(outcome["status"], 0) + 1
        return JSONResponse({"results": outcomes, "counts": counts})

    # ------------------------------------------------------------------ health
    async def _health(self, model: ServedModel) -> dict[str, Any]:
        try:
            state = await model.current()
        except Exception as exc:
            return {"status": "unavailable", "problem": f"{type(exc).__name__}: {exc}"}
        health = {"status": "ok", "champion_version": state.traffic.champion_version, "mode": state.traffic.mode.value}
        health.update(await model.placement.health(state))
        if not health["champion_loaded"]:  # its requests answer 503 until it is
            health["status"] = "unavailable"
        if model.state_problem:  # it still answers, from the last state it read
            health["status"], health["state"] = "degraded", model.state_problem
        return health

    @api.get("/healthz", summary="Liveness and the versions being served")
    async def healthz(self) -> dict[str, Any]:
        self._start_pump()
        models = {name: await self._health(model) for name, model in self._models.items()}
        health: dict[str, Any] = dict(next(iter(models.values()))) if len(models) == 1 else {}
        statuses = {m["status"] for m in models.values()}
        health["status"] = "ok" if statuses == {"ok"} else "degraded"
        health["models"] = models
        logs = await self._writer.health.remote()
        health["logs"] = logs
        if logs["status"] != "ok":  # serving still answers; labels or log rows may be refused until it recovers
            health["status"] = "degraded"
        return health

    # ------------------------------------------------------------------ rollout status and admin
    @api.get("/rollout", summary="Rollout state, serving state and the transition history (open to read)")
    async def rollout_status(self) -> Any:
        return await self._rollout_status(None)

    @api.get("/models/{name}/rollout", summary="One model's rollout state", include_in_schema=False)
    async def rollout_status_model(self, name: str) -> Any:
        return await self._rollout_status(name)

    async def _rollout_status(self, name: str | None) -> Any:
        try:
            status: dict[str, Any] = await self._controller.status.remote(self._model(name).name)
        except RouteRefusal as err:
            return err.response()
        except StateStoreError as err:
            return error(503, "state_unavailable", str(cause(err)))
        except ServingError as err:  # the model's rollout control has not started (e.g. no champion yet)
            return error(503, "model_unavailable", str(cause(err)))
        return status

    @api.get("/rollout/history", summary="Which version held an alias (default champion) at a time, since when, why")
    async def rollout_history(self, alias: str = "champion", at: str | None = None) -> Any:
        return await self._rollout_history(None, alias, at)

    @api.get("/models/{name}/rollout/history", summary="One model's alias history", include_in_schema=False)
    async def rollout_history_model(self, name: str, alias: str = "champion", at: str | None = None) -> Any:
        return await self._rollout_history(name, alias, at)

    async def _rollout_history(self, name: str | None, alias: str, at: str | None) -> Any:
        from driftline.core.alias_history import parse_time

        try:
            model = self._model(name)
            when = parse_time(at) if at is not None else None
        except RouteRefusal as err:
            return err.response()
        except DriftlineError as err:
            return error(422, "bad_time", str(cause(err)))
        try:
            answer: dict[str, Any] = await self._controller.history.remote(model.name, alias, when)
        except StateStoreError as err:
            return error(503, "state_unavailable", str(cause(err)))
        except ServingError as err:
            return error(503, "model_unavailable", str(cause(err)))
        return answer

    def _refuse(self, request: Request) -> JSONResponse | None:
        """The 403/401 answer when the caller may not use the admin API; None when it may."""
        if not self._auth.enabled:
            return error(403, "admin_disabled", "The admin API is disabled: set DRIFTLINE_ADMIN_TOKEN for Serve.")
        header = request.headers.get("authorization")
        if self._labeller.check(header) and not self._auth.check(header):
            return error(403, "forbidden", "The labeller token may send labels, not change a rollout.")
        if not self._auth.check(header):
            response = error(401, "unauthorized", "Send 'Authorization: Bearer <admin token>'.")
            response.headers["WWW-Authenticate"] = "Bearer"
            return response
        return None

    async def _admin(self, name: str | None, request: Request, operation: str, *args: Any) -> JSONResponse:
        refused = self._refuse(request)
        if refused is not None:
            return refused
        try:
            model = self._model(name)
            result = await getattr(self._controller, operation).remote(model.name, *args)
        except RouteRefusal as err:
            return err.response()
        except RolloutError as err:
            return error(409, "rollout_conflict", str(cause(err)))
        except StateStoreError as err:
            return error(503, "state_unavailable", str(cause(err)))
        except ServingError as err:
            return error(503, "model_unavailable", str(cause(err)))
        except DriftlineError as err:
            return error(422, "invalid_rollout", str(cause(err)))
        with contextlib.suppress(Exception):  # re-read the serving state now (else at the next poll)
            await model.refresh()
        return JSONResponse(result)

    async def _rollout_start(self, name: str | None, request: Request, force: bool) -> JSONResponse:
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
        return await self._admin(name, request, "start", spec, force)

    @api.post("/rollout", summary="Start a rollout (admin): a RolloutSpec {mode, candidate_version, ...}")
    async def rollout_start(self, request: Request, force: bool = False) -> JSONResponse:
        return await self._rollout_start(None, request, force)

    @api.post("/models/{name}/rollout", summary="Start a rollout of one model (admin)", include_in_schema=False)
    async def rollout_start_model(self, name: str, request: Request, force: bool = False) -> JSONResponse:
        return await self._rollout_start(name, request, force)

    @api.post("/rollout/promote", summary="Promote the candidate now (admin)")
    async def rollout_promote(self, request: Request) -> JSONResponse:
        return await self._admin(None, request, "promote", "manual promote via API")

    @api.post(
        "/models/{name}/rollout/promote", summary="Promote one model's candidate (admin)", include_in_schema=False
    )
    async def rollout_promote_model(self, name: str, request: Request) -> JSONResponse:
        return await self._admin(name, request, "promote", "manual promote via API")

    @api.post("/rollout/abort", summary="Abort and send all traffic to the champion (admin)")
    async def rollout_abort(self, request: Request) -> JSONResponse:
        return await self._admin(None, request, "abort", "manual abort via API")

    @api.post("/models/{name}/rollout/abort", summary="Abort one model's rollout (admin)", include_in_schema=False)
    async def rollout_abort_model(self, name: str, request: Request) -> JSONResponse:
        return await self._admin(name, request, "abort", "manual abort via API")

    # ------------------------------------------------------------------ the Open Inference Protocol (v2)
    @api.get("/v2", summary="Open Inference Protocol: server metadata", include_in_schema=False)
    async def v2_server(self) -> JSONResponse:
        return JSONResponse({"name": "driftline", "version": __version__, "extensions": ["binary_tensor_data"]})

    @api.get("/v2/health/live", summary="Open Inference Protocol: the server is live", include_in_schema=False)
    async def v2_live(self) -> JSONResponse:
        return JSONResponse({"live": True})

    @api.get("/v2/health/ready", summary="Open Inference Protocol: every model is ready", include_in_schema=False)
    async def v2_ready(self) -> JSONResponse:
        """Ready when every model served holds its champion (a model that failed to load makes it 503)."""
        self._start_pump()
        ready = all([await self._champion_loaded(m) for m in self._models.values()])
        return JSONResponse({"ready": ready}, status_code=200 if ready else 503)

    async def _champion_loaded(self, model: ServedModel) -> bool:
        try:
            return bool((await model.placement.health(await model.current()))["champion_loaded"])
        except Exception:
            return False

    @api.get("/v2/models/{name}/ready", summary="Open Inference Protocol: one model is ready", include_in_schema=False)
    async def v2_model_ready(self, name: str) -> JSONResponse:
        try:
            model = self._model(name)
        except RouteRefusal as err:
            return v2_error(err.status, err.message)
        ready = await self._champion_loaded(model)
        return JSONResponse({"name": name, "ready": ready}, status_code=200 if ready else 503)

    @api.get("/v2/models/{name}", summary=V2_METADATA, include_in_schema=False)
    @api.get("/v2/models/{name}/versions/{version}", summary=V2_METADATA, include_in_schema=False)
    async def v2_model(self, name: str, version: str | None = None) -> JSONResponse:
        try:
            _, state, schema = await self._resolve(name)
        except RouteRefusal as err:
            return v2_error(err.status, err.message)
        versions = state.versions
        if version is not None and version not in versions:
            return v2_error(404, f"Model {name!r} serves versions {versions}, not {version!r}.")
        return JSONResponse(model_metadata(name, versions, schema))

    @api.post("/v2/models/{name}/infer", summary=V2_INFER, include_in_schema=False)
    @api.post("/v2/models/{name}/versions/{version}/infer", summary=V2_INFER, include_in_schema=False)
    async def v2_infer(self, name: str, request: Request, version: str | None = None) -> JSONResponse:
        """Routed, logged, counted and labelled exactly like ``/models/{name}/predict`` (the variant follows the
        rollout; a version in the path must be one the model serves, and the answer says which one answered)."""
        request_id, client_id = new_request_id(time.time()), client_request_id(request)
        try:
            model, state, schema = await self._resolve(name)
            body = await read_body(request, self._max_body)
            parsed = parse_infer(body, request.headers.get("inference-header-content-length"), schema)
            checked = parse_rows({"instances": parsed.rows}, schema, self._max_rows)
        except RouteRefusal as err:
            return v2_error(err.status, err.message)
        except (V2Error, PayloadError) as err:
            return v2_error(err.status, str(err))
        if version is not None and version not in state.versions:
            return v2_error(404, f"Model {name!r} serves versions {state.versions}, not {version!r}.")
        chosen = route(state.traffic, request.headers.get("x-user-id"), request_id)
        try:
            answered = await model.serve(state, chosen, checked.rows, request_id, parsed.id or client_id, checked.ids)
        except ChampionFailed as failed:
            return v2_error(504 if failed.timed_out else 503, str(failed))
        result = answered.result
        tokens = [self._signer.sign(request_id, row) for row in range(len(checked.rows))]
        parameters = {"request_id": request_id, "variant": answered.variant.value}
        probabilities = None if schema.is_regression else result.probabilities
        answer = infer_response(
            name, result.model_version, parsed.id, result.predictions, probabilities, tokens, parameters
        )
        return JSONResponse(answer, headers={"X-Driftline-Request-Id": request_id})

    # ------------------------------------------------------------------ the API's own description
    @api.get("/openapi.json", summary="The OpenAPI document, strict for the served model", include_in_schema=False)
    async def openapi(self) -> JSONResponse:
        """The OpenAPI document with the served model's features, types and classes (see ``openapi.py``)."""
        return await self._openapi_of(None)

    @api.get("/models/{name}/openapi.json", summary="One model's OpenAPI document", include_in_schema=False)
    async def openapi_model(self, name: str) -> JSONResponse:
        return await self._openapi_of(name)

    async def _openapi_of(self, name: str | None) -> JSONResponse:
        try:
            model, _, schema = await self._resolve(name)
        except RouteRefusal as err:
            return err.response()
        cached = self._openapi.get(model.name)
        if cached is None or cached[0] is not schema:  # it describes the champion's schema
            base = get_openapi(title=api.title, version=api.version, description=api.description, routes=api.routes)
            cached = self._openapi[model.name] = (schema, serving_openapi(base, schema, max_rows=self._max_rows))
        return JSONResponse(cached[1])

    @api.get("/docs", summary="The OpenAPI document in Swagger UI", include_in_schema=False)
    async def docs(self, request: Request) -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=f"{request.scope.get('root_path', '')}/openapi.json", title=api.title)

    async def __del__(self) -> None:
        with contextlib.suppress(Exception):  # the writer may be going away too: what it cannot take is lost anyway
            await asyncio.wait_for(self._log.flush(wait=True), self._timeout)
