"""Where a model's champion and candidate run, behind one interface the router calls.

- :class:`InlinePlacement` (default): both versions live in the ingress replica (a :class:`ModelHost`), loaded by
  the router's background poll and predicted in micro-batches off the event loop. No hop on a request's path.
- :class:`RemotePlacement`: the two slot deployments (``slot_a``/``slot_b``, :class:`ModelReplica`) over Serve's
  gRPC handles, for large models, GPUs, or a candidate that needs its own scaling.

Shadow, A/B and canary mean the same in both: the router decides the variant (``assignment.route``) and calls
``predict`` with it; a placement only says where that variant's version runs.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Protocol

from driftline.core.records import Variant
from driftline.datasets.schema import DatasetSchema
from driftline.serve_apps.model_host import ModelHost, ModelNotReady, Prediction
from driftline.serve_apps.serving_state import ServingState

__all__ = ["InlinePlacement", "Placement", "RemotePlacement"]

_RETRY_FAILED_LOAD_SECONDS = 10.0


class Placement(Protocol):
    async def predict(self, state: ServingState, variant: Variant, rows: list[dict[str, Any]]) -> Prediction:
        """``variant``'s answer (the version the state gives it); ``ModelNotReady`` when it is not loaded."""
        ...

    async def schema(self, state: ServingState) -> DatasetSchema:
        """The champion's table schema; ``ModelNotReady`` when it is not loaded."""
        ...

    async def refresh(self, state: ServingState) -> None:
        """Background poll: bring the versions held in line with ``state`` (never called on a request's path)."""
        ...

    async def health(self, state: ServingState) -> dict[str, Any]:
        """What is loaded where, for ``/healthz``."""
        ...


class InlinePlacement:
    """The versions in the state's slots, held by this replica's :class:`ModelHost`."""

    def __init__(self, host: ModelHost) -> None:
        self.host = host
        self._failed: tuple[frozenset[str], float] | None = None  # a set that failed to load, and when

    @staticmethod
    def _wanted(state: ServingState) -> frozenset[str]:
        return frozenset(v for v in state.slots.values() if v is not None)

    async def predict(self, state: ServingState, variant: Variant, rows: list[dict[str, Any]]) -> Prediction:
        version = state.version_for(variant)
        return await self.host.predict(rows, version or "")

    async def schema(self, state: ServingState) -> DatasetSchema:
        return self.host.schema(state.traffic.champion_version)

    async def refresh(self, state: ServingState) -> None:
        wanted = self._wanted(state)
        if wanted == self.host.versions:
            return
        now = time.monotonic()
        if self._failed is not None and self._failed[0] == wanted and now < self._failed[1]:
            return  # a failed load is retried every few seconds, not at every poll
        await asyncio.to_thread(self.host.hold, wanted)
        failed = self.host.versions != wanted
        self._failed = (wanted, now + _RETRY_FAILED_LOAD_SECONDS) if failed else None

    def hold_now(self, state: ServingState) -> None:
        """Load ``state``'s versions in the calling thread (a replica's constructor: ready once it can answer)."""
        self.host.hold(self._wanted(state))

    async def health(self, state: ServingState) -> dict[str, Any]:
        candidate = state.traffic.candidate_version
        return {
            "placement": "inline",
            "champion_loaded": state.traffic.champion_version in self.host.versions,
            "candidate_loaded": candidate if candidate in self.host.versions else None,
            "load_error": self.host.load_error,
        }


class RemotePlacement:
    """The slot deployments' handles; the serving state says which slot holds which variant's version."""

    def __init__(self, slot_a: Any, slot_b: Any) -> None:
        # Predictions travel to the slots over Serve's direct gRPC channel, not as Ray actor calls
        # (``_by_reference=False``): 20-25% less server CPU per request (benchmarks/serve_overhead.py).
        self._slots = {"a": slot_a.options(_by_reference=False), "b": slot_b.options(_by_reference=False)}
        self._schema: tuple[str, DatasetSchema] | None = None  # (version, its schema)

    async def predict(self, state: ServingState, variant: Variant, rows: list[dict[str, Any]]) -> Prediction:
        slot, version = state.slot_for(variant), state.version_for(variant)
        result: Prediction = await self._slots[slot].predict.remote(rows, version)
        return result

    async def schema(self, state: ServingState) -> DatasetSchema:
        version = state.traffic.champion_version
        if self._schema is None or self._schema[0] != version:
            info = await self._slots[state.champion_slot].info.remote()
            if str(info["version"]) != version:  # the slot is still loading the new champion
                raise ModelNotReady(f"Slot {state.champion_slot} holds {info['version']}, not {version}.", "Retry.")
            self._schema = (version, DatasetSchema.from_dict(info["schema"]))
        return self._schema[1]

    async def refresh(self, state: ServingState) -> None:
        return None  # each slot replica polls the state and loads its own version

    async def health(self, state: ServingState) -> dict[str, Any]:
        health: dict[str, Any] = {"placement": "remote"}
        try:
            info = await self._slots[state.champion_slot].info.remote()
            health["champion_loaded"] = str(info["version"]) == state.traffic.champion_version
            health["load_error"] = info.get("load_error")
        except Exception:
            health["champion_loaded"] = False
        if state.traffic.candidate_version is not None:
            try:
                candidate = await self._slots[state.candidate_slot].info.remote()
                health["candidate_loaded"] = candidate["version"]
            except Exception:
                health["candidate_loaded"] = None
        return health
