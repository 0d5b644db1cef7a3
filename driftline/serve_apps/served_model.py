"""One model as an ingress replica serves it: its serving state, its two versions (wherever they are placed), and
what every answer leaves behind (outcome counters, metrics, a prediction record, a shadow copy).

The router owns the HTTP side; this owns the decisions for one model, so a replica can serve many. Nothing here
reads a database or loads a model on a request's path: :meth:`ServedModel.refresh` (the background poll) does.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass
from typing import Any

from driftline.core.config import ServeConfig
from driftline.core.errors import ServingError
from driftline.core.records import PredictionRecord, Role, Variant
from driftline.core.state_db import StateStoreError
from driftline.datasets.schema import DatasetSchema
from driftline.serve_apps.assignment import Route
from driftline.serve_apps.log_buffer import LogBuffer
from driftline.serve_apps.model_host import ModelNotReady, Prediction
from driftline.serve_apps.outcomes import Outcomes
from driftline.serve_apps.placement import Placement
from driftline.serve_apps.serving_state import ServingState, ServingStateStore
from driftline.serve_apps.shadow import ShadowMirror

__all__ = ["Answered", "ChampionFailed", "ServedModel"]


@dataclass(frozen=True)
class Answered:
    variant: Variant  # who answered: the champion also when the candidate failed (``fallback``)
    result: Prediction
    latency_s: float
    fallback: bool = False


class ChampionFailed(ServingError):
    """The champion could not answer (after a candidate failure too): a 503, or a 504 when it timed out."""

    def __init__(self, message: str, timed_out: bool) -> None:
        super().__init__(message)
        self.timed_out = timed_out


class ServedModel:
    """One model in one ingress replica, ``name`` as in its URLs. ``controller`` is the rollout controller's handle."""

    def __init__(
        self,
        name: str,
        placement: Placement,
        store: ServingStateStore,
        controller: Any,
        log: LogBuffer,
        outcomes: Outcomes,
        settings: ServeConfig,
        state: ServingState | None = None,
    ) -> None:
        self.name, self.placement, self.outcomes = name, placement, outcomes
        self.registered = outcomes.model  # the registered model: what its records and metrics are named
        self.store, self._controller, self._log = store, controller, log
        self._timeout = settings.request_timeout_seconds
        self.state = state
        self.state_problem: str | None = None  # why the last read of the serving state failed, if it did
        self._shadow = ShadowMirror(settings.shadow_timeout_seconds, settings.shadow_max_in_flight, outcomes)

    # ------------------------------------------------------------------ background
    async def refresh(self) -> None:
        """Re-read the serving state now (keeping the last good one when the database is down) and bring the
        versions held in line with it. The router's poll does this for every model at once, and hands the
        outcome counters to the controller."""
        try:
            loaded = await asyncio.to_thread(self.store.load)
        except StateStoreError as exc:
            await self.adopt(None, str(exc), reachable=False)
        else:
            await self.adopt(loaded, self.store.problem)

    async def adopt(self, loaded: ServingState | None, problem: str | None, reachable: bool = True) -> None:
        """Take a state read for this model (None: none stored or unreadable, ``problem`` says which; or the
        database not ``reachable``) and bring the versions held in line with it; the last good state stays."""
        self.state_problem = problem
        if loaded is None and self.state is None:
            if not reachable:  # the database is down and nothing was read yet: no state to serve from
                raise StateStoreError(problem or "the state database cannot be reached")
            loaded = ServingState.from_dict(await self._controller.serving.remote(self.name))  # asked once
        if loaded is not None:
            self.state = loaded
        assert self.state is not None
        await self.placement.refresh(self.state)

    async def current(self) -> ServingState:
        """The serving state last read (read now only before the first poll)."""
        if self.state is None:
            await self.refresh()
        assert self.state is not None
        return self.state

    async def schema(self, state: ServingState) -> DatasetSchema:
        """The champion's table schema (requests and labels are validated against it); it follows promotions."""
        return await self.placement.schema(state)

    # ------------------------------------------------------------------ answers
    async def call(self, state: ServingState, variant: Variant, rows: list[dict[str, Any]]) -> Prediction:
        """``variant``'s answer; a timeout, a non-finite probability or a non-finite regression prediction is an
        error of that variant."""
        result = await asyncio.wait_for(self.placement.predict(state, variant, rows), self._timeout)
        if not all(math.isfinite(p) for proba in result.probabilities for p in proba):
            raise ServingError(f"Version {result.model_version} answered non-finite probabilities.")
        if not all(math.isfinite(p) for p in result.predictions if isinstance(p, float)):
            raise ServingError(f"Version {result.model_version} answered non-finite predictions.")
        return result

    async def serve(
        self,
        state: ServingState,
        route: Route,
        rows: list[dict[str, Any]],
        request_id: str,
        client_id: str | None,
        ids: list[str] | None = None,
    ) -> Answered:
        """The answer for a request routed by ``route``: counted, logged (with the rows' business keys, ``ids``) and
        (if routed so) mirrored to the candidate. A failing or slow candidate counts against it and the champion
        answers instead; a failing champion raises :class:`ChampionFailed`, counted, never logged as served."""
        answered = await self._answer(state, route.variant, rows)
        self.outcomes.answered(answered.variant, Role.SERVED, answered.result.model_version, answered.latency_s)
        self._record(
            rows, request_id, answered.variant, Role.SERVED, answered.result, answered.latency_s, client_id, ids
        )
        if route.mirror:
            candidate = state.traffic.candidate_version
            call = lambda r: self.call(state, Variant.CANDIDATE, r)  # noqa: E731
            log = lambda r, rid, res, lat: self._record(r, rid, Variant.CANDIDATE, Role.SHADOW, res, lat, None, ids)  # noqa: E731
            self._shadow.start(call, candidate, rows, request_id, answered.result, log)
        return answered

    async def _answer(self, state: ServingState, variant: Variant, rows: list[dict[str, Any]]) -> Answered:
        started = time.perf_counter()
        try:
            return Answered(variant, await self.call(state, variant, rows), time.perf_counter() - started)
        except Exception as exc:
            failed = exc
        if variant is Variant.CANDIDATE:
            if not isinstance(failed, ModelNotReady):  # a real candidate failure (or timeout) counts against it
                latency = time.perf_counter() - started
                self.outcomes.answered(variant, Role.SERVED, state.version_for(variant), latency, error=True)
            started = time.perf_counter()
            try:
                result = await self.call(state, Variant.CHAMPION, rows)
                return Answered(Variant.CHAMPION, result, time.perf_counter() - started, fallback=True)
            except Exception as exc:
                failed = exc
        latency = time.perf_counter() - started
        self.outcomes.answered(Variant.CHAMPION, Role.SERVED, state.traffic.champion_version, latency, error=True)
        if isinstance(failed, asyncio.TimeoutError):
            raise ChampionFailed(f"The champion did not answer within {self._timeout:g} s.", timed_out=True)
        raise ChampionFailed(f"The champion could not answer: {type(failed).__name__}.", timed_out=False)

    def _record(
        self,
        rows: list[dict[str, Any]],
        request_id: str,
        variant: Variant,
        role: Role,
        result: Prediction,
        latency_s: float,
        client_id: str | None = None,
        ids: list[str] | None = None,
    ) -> None:
        self._log.add(
            PredictionRecord(
                request_id,
                client_id or "",
                time.time(),
                self.registered,
                result.model_version,
                variant,
                role,
                rows,
                result.predictions,
                result.probabilities,
                latency_s * 1000.0,
                ids,
            )
        )

    # ------------------------------------------------------------------ labels
    def labelled(self, state: ServingState, scored: list[dict[str, Any]], regression: bool) -> None:
        """Count the labels the writer scored; a label counts for the rollout only while the version that answered
        still holds its variant."""
        for score in scored:
            variant = Variant(score["variant"])
            if state.version_for(variant) == score["model_version"]:
                self.outcomes.labelled(variant, score["correct"], score.get("abs_error") if regression else None)
