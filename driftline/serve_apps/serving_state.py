"""What every router and model replica applies: the traffic config plus which model slot holds which version.

Two slots (``a``, ``b``) hold the champion and the candidate. Promotion flips the role map (the candidate's slot
becomes the champion's) so no model is reloaded on the request path; the freed slot is reused by the next
candidate. The state lives in ``<workdir>/state/serving.json`` (atomic replace; one writer, the rollout controller);
routers and replicas poll it every ``poll_seconds``, so all of them converge within that time plus a model load.

>>> state = ServingState.initial("3")
>>> canary = state.apply(TrafficConfig("3", "4", TrafficMode.CANARY, 0.25, revision=1))
>>> promoted = canary.apply(TrafficConfig("4", None, revision=2))
>>> promoted.slots, promoted.champion_slot
({'a': '3', 'b': '4'}, 'b')
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from driftline.core.errors import ConfigError
from driftline.core.fs import FileSystem, LocalFileSystem
from driftline.rollout.traffic import TrafficConfig, TrafficMode  # noqa: F401 (TrafficMode: doctest)

__all__ = ["SERVING_FILE", "SLOTS", "ServingState", "ServingStateStore"]

SERVING_FILE = "serving.json"
SLOTS = ("a", "b")


@dataclass(frozen=True)
class ServingState:
    traffic: TrafficConfig
    slots: dict[str, str | None] = field(default_factory=dict)
    champion_slot: str = "a"

    @classmethod
    def initial(cls, champion_version: str) -> ServingState:
        return cls(TrafficConfig(champion_version), {"a": champion_version, "b": None}, "a")

    @property
    def candidate_slot(self) -> str:
        return "b" if self.champion_slot == "a" else "a"

    def slot_of(self, version: str | None) -> str | None:
        return next((s for s in SLOTS if version is not None and self.slots.get(s) == version), None)

    def apply(self, traffic: TrafficConfig) -> ServingState:
        """Place ``traffic``'s versions in slots, moving as few models as possible.

        The champion stays in the slot that already holds it (after a promotion: the candidate's slot); the
        other slot gets the candidate, or keeps what it had (the previous champion stays warm for a rollback).
        """
        slots = dict(self.slots)
        holding = [s for s in SLOTS if slots.get(s) == traffic.champion_version]
        if self.champion_slot in holding:
            champ_slot = self.champion_slot
        elif holding:
            champ_slot = holding[0]
        else:  # load the champion where the candidate is not
            champ_slot = "b" if slots.get("a") == traffic.candidate_version else "a"
            slots[champ_slot] = traffic.champion_version
        other = "b" if champ_slot == "a" else "a"
        if traffic.candidate_version is not None:
            slots[other] = traffic.candidate_version
        return replace(self, traffic=traffic, slots=slots, champion_slot=champ_slot)

    def to_dict(self) -> dict[str, Any]:
        return {
            "traffic": self.traffic.to_dict(),
            "slots": self.slots,
            "champion_slot": self.champion_slot,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ServingState:
        return cls(TrafficConfig.from_dict(data["traffic"]), dict(data["slots"]), data["champion_slot"])


class ServingStateStore:
    """Reads and (for the single writer) replaces ``serving.json``."""

    def __init__(self, root: str | Path, fs: FileSystem | None = None) -> None:
        self.root = str(root)
        self.fs = fs or LocalFileSystem()
        self.path = f"{self.root.rstrip('/')}/{SERVING_FILE}"
        self.problem: str | None = None

    def load(self) -> ServingState | None:
        """The state, or None when there is none yet or the file is unreadable (``problem`` then says why)."""
        text = self.fs.read_text(self.path)
        if text is None:
            return None
        try:
            state = ServingState.from_dict(json.loads(text))
        except (ValueError, KeyError, TypeError, ConfigError) as exc:  # torn, empty or edited by hand
            self.problem = f"{self.path} is unreadable ({type(exc).__name__}: {exc})"
            return None
        self.problem = None
        return state

    def save(self, state: ServingState) -> None:
        self.fs.makedirs(self.root)
        self.fs.write_text_atomic(self.path, json.dumps(state.to_dict(), indent=2))
