"""What every router and model replica applies: the traffic config plus which model slot holds which version.

Two slots (``a``, ``b``) hold the champion and the candidate. Promotion flips the role map (the candidate's slot
becomes the champion's) so no model is reloaded on the request path; the freed slot is reused by the next
candidate. The state is the ``serving`` document of the state database (one writer, the rollout controller);
routers and replicas poll it every ``poll_seconds``, so all of them converge within that time plus a model load.

>>> state = ServingState.initial("3")
>>> canary = state.apply(TrafficConfig("3", "4", TrafficMode.CANARY, 0.25, revision=1))
>>> promoted = canary.apply(TrafficConfig("4", None, revision=2))
>>> promoted.slots, promoted.champion_slot
({'a': '3', 'b': '4'}, 'b')
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Any

from driftline.core.errors import ConfigError
from driftline.core.records import Variant
from driftline.core.state_db import Document, StateDB, state_db_at
from driftline.rollout.traffic import TrafficConfig, TrafficMode  # noqa: F401 (TrafficMode: doctest)

__all__ = ["SERVING_DOCUMENT", "SLOTS", "ServingState", "ServingStateStore"]

SERVING_DOCUMENT = "serving"
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

    @property
    def versions(self) -> list[str]:
        """The versions being served: the champion, then the candidate if there is one."""
        return [v for v in (self.traffic.champion_version, self.traffic.candidate_version) if v is not None]

    def slot_for(self, variant: Variant) -> str:
        return self.champion_slot if variant is Variant.CHAMPION else self.candidate_slot

    def version_for(self, variant: Variant) -> str | None:
        traffic = self.traffic
        return traffic.champion_version if variant is Variant.CHAMPION else traffic.candidate_version

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
    """Reads and (for the single writer) replaces the ``serving`` document."""

    def __init__(self, db: StateDB | str | os.PathLike[str]) -> None:
        self.db = db if isinstance(db, StateDB) else state_db_at(db)
        self.problem: str | None = None

    @property
    def document(self) -> str:
        """The stored name of the document (with its model's prefix): what a batched read of many models asks for."""
        return self.db.prefix + SERVING_DOCUMENT

    def load(self) -> ServingState | None:
        """The state, or None when there is none yet or it is unreadable (``problem`` then says why)."""
        return self.parse(self.db.get(SERVING_DOCUMENT))

    def parse(self, doc: Document | None) -> ServingState | None:
        """The state in ``doc`` (as :meth:`load` reads it, or from a batched read of many models)."""
        if doc is None:
            return None
        try:
            state = ServingState.from_dict(doc.body)
        except (ValueError, KeyError, TypeError, ConfigError) as exc:  # edited by hand, or an older schema
            self.problem = f"the serving state in {self.db.url} is unreadable ({type(exc).__name__}: {exc})"
            return None
        self.problem = None
        return state

    def save(self, state: ServingState) -> None:
        """Replace the state (one writer: the rollout controller)."""
        current = self.db.get(SERVING_DOCUMENT)
        self.db.put(SERVING_DOCUMENT, state.to_dict(), expected_revision=current.revision if current else 0)
