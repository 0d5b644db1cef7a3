"""The rollout's persisted state, its transitions and the decisions a step returns.

The logic lives in :mod:`driftline.rollout.machine` (pure ``step``/``start``/``promote``/``abort``, one file per
mode), persistence in :mod:`~driftline.rollout.store`, side effects in :mod:`~driftline.rollout.controller`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any

from driftline.core.errors import RolloutError
from driftline.rollout.counters import VariantCounters
from driftline.rollout.phases import TERMINAL_PHASES, Action, Phase

if TYPE_CHECKING:
    from driftline.rollout.spec import RolloutSpec

__all__ = ["Decision", "RolloutState", "Transition"]


@dataclass(frozen=True)
class Transition:
    time: float
    from_phase: Phase
    to_phase: Phase
    reason: str
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "time": self.time,
            "from": self.from_phase.value,
            "to": self.to_phase.value,
            "reason": self.reason,
            "evidence": self.evidence,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Transition:
        return cls(
            float(data["time"]),
            Phase(data["from"]),
            Phase(data["to"]),
            str(data["reason"]),
            dict(data.get("evidence") or {}),
        )


@dataclass(frozen=True)
class RolloutState:
    """Everything needed to resume a rollout after a restart. Counters cover the current step (canary) or
    phase (shadow, A/B); ``*_total`` cover the whole phase; ``p_value`` is the running mSPRT p-value."""

    rollout_id: str
    phase: Phase
    spec: RolloutSpec
    started_at: float
    step_started_at: float
    step_index: int = 0
    candidate_weight: float = 0.0
    shadow_fraction: float = 0.0
    champion: VariantCounters = field(default_factory=VariantCounters)
    candidate: VariantCounters = field(default_factory=VariantCounters)
    champion_total: VariantCounters = field(default_factory=VariantCounters)
    candidate_total: VariantCounters = field(default_factory=VariantCounters)
    failed_checks: int = 0
    p_value: float = 1.0
    srm_p_value: float = 1.0  # running always-valid p of the sample-ratio guard (A/B)
    history: tuple[Transition, ...] = ()
    revision: int = 0

    @property
    def terminal(self) -> bool:
        return self.phase in TERMINAL_PHASES

    def evolve(self, **changes: Any) -> RolloutState:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"schema": 1}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, VariantCounters):
                value = value.to_dict()
            elif isinstance(value, Phase):
                value = value.value
            elif f.name == "spec":
                value = value.model_dump(mode="json")
            elif f.name == "history":
                value = [t.to_dict() for t in value]
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RolloutState:
        """Inverse of :meth:`to_dict` once ``data["spec"]`` is a parsed :class:`RolloutSpec`; read a stored state
        with :func:`driftline.rollout.store.state_from_dict`, which parses the spec first."""
        data = dict(data)
        if data.pop("schema", 1) != 1:
            raise RolloutError("Rollout state has an unknown schema version.", "Upgrade driftline to read it.")
        counters = ("champion", "candidate", "champion_total", "candidate_total")
        for name in counters:
            data[name] = VariantCounters.from_dict(data.get(name) or {})
        data["phase"] = Phase(data["phase"])
        if isinstance(data.get("spec"), Mapping):
            raise RolloutError("RolloutState.from_dict needs a parsed spec.", "Use rollout.store.state_from_dict.")
        data["history"] = tuple(Transition.from_dict(t) for t in data.get("history") or ())
        return cls(**data)


@dataclass(frozen=True)
class Decision:
    """What ``step`` decided: the action, the state to persist, why, and the numbers behind it."""

    action: Action
    state: RolloutState
    reason: str
    evidence: dict[str, Any] = field(default_factory=dict)
