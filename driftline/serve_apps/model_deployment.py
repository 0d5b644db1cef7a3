"""A model slot replica (placement ``remote``): serves whichever version the serving state assigns to its slot.

Each replica polls the serving state and loads its slot's version in the background (a :class:`ModelHost`); the
old model keeps answering until the new one is ready, so a reload never drops a request. Callers name the version
they expect; a replica that does not hold it yet raises ``ModelNotReady`` (the router then uses the champion).
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pandas as pd

from driftline.core.config import DriftlineConfig
from driftline.serve_apps.model_host import ModelHost, Prediction

__all__ = ["ModelReplica"]


class ModelReplica:
    """Serve deployment class (wrapped with ``serve.deployment`` by the app builder), one per slot name."""

    def __init__(self, config: dict[str, Any], slot: str, poll_seconds: float = 0.5) -> None:
        from driftline.core.state_db import model_state
        from driftline.serve_apps.serving_state import ServingStateStore

        self._cfg = DriftlineConfig.model_validate(config)
        self._slot = slot
        self._store = ServingStateStore(model_state(self._cfg))
        self._host = ModelHost(self._cfg)
        self._stop = threading.Event()
        self._sync()  # first load in the constructor: the replica is healthy only once it can answer
        threading.Thread(target=self._poll, args=(poll_seconds,), daemon=True).start()

    def _wanted_version(self) -> str | None:
        from driftline.model.registry import CHAMPION, ModelRegistry

        state = self._store.load()
        if state is not None:
            return state.slots.get(self._slot)
        if self._host.versions:  # unreadable for a moment (the controller rewrites it): keep serving
            return next(iter(self._host.versions))
        # No serving state yet (first start): slot "a" serves the champion alias.
        return ModelRegistry(self._cfg).resolve(f"@{CHAMPION}") if self._slot == "a" else None

    def _sync(self) -> None:
        wanted = self._wanted_version()
        if wanted is not None and wanted not in self._host.versions:
            self._host.hold([wanted])

    def _poll(self, seconds: float) -> None:
        while not self._stop.wait(seconds):
            try:
                self._sync()
            except Exception as exc:  # keep serving the loaded model; the error shows in info()
                self._host.load_error = repr(exc)
                time.sleep(seconds)

    def info(self) -> dict[str, Any]:
        """The version held and its table schema; ``ModelNotReady`` while none is."""
        version = next(iter(self._host.versions), None)
        return {
            "slot": self._slot,
            "version": version,
            "schema": self._host.schema(version).to_dict(),
            "load_error": self._host.load_error,
        }

    async def predict(self, rows: pd.DataFrame | list[dict[str, Any]], expected_version: str) -> Prediction:
        return await self._host.predict(rows, expected_version)

    def __del__(self) -> None:
        self._stop.set()
