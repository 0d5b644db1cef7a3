"""The thin controller: load state, call the pure machine, save, then apply side effects through adapters.

Order per change: save the state first (it is the source of truth), then publish traffic, then move the
MLflow aliases. The adapters are idempotent, so after a crash between these steps :meth:`reconcile`
re-applies the stored state's effects; a restarted controller calls it once.

>>> import tempfile
>>> from driftline.rollout.spec import RolloutSpec
>>> class Pub:
...     def publish(self, config): self.last = config
>>> class Aliases:
...     def promote(self, candidate_version): pass
...     def rollback(self): pass
>>> ctl = RolloutController(RolloutStore(tempfile.mkdtemp()), Pub(), Aliases(), champion_version=lambda: "3")
>>> ctl.start(RolloutSpec(mode="ab", candidate_version="4"), now=0.0).phase.value
'AB_TEST'
>>> ctl.publisher.last.mode.value, ctl.abort(now=1.0).action.value
('ab', 'ROLLBACK')
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from driftline.core.errors import RolloutError
from driftline.rollout.counters import Observation
from driftline.rollout.machine import abort, promote, start, step, traffic_for
from driftline.rollout.phases import Action, Phase
from driftline.rollout.spec import RolloutSpec
from driftline.rollout.state import Decision, RolloutState
from driftline.rollout.store import RolloutStore
from driftline.rollout.traffic import TrafficConfig

__all__ = ["AliasMover", "RolloutController", "TrafficPublisher"]


class TrafficPublisher(Protocol):
    """Makes every router apply ``config`` (e.g. a Serve reconfigure, or a file the routers poll)."""

    def publish(self, config: TrafficConfig) -> None: ...


class AliasMover(Protocol):
    """Moves MLflow aliases: ``promote`` makes the candidate the champion, ``rollback`` clears the candidate."""

    def promote(self, candidate_version: str) -> None: ...

    def rollback(self) -> None: ...


class RolloutController:
    """Applies the machine's decisions; the only writer of the rollout state."""

    def __init__(
        self,
        store: RolloutStore,
        publisher: TrafficPublisher,
        aliases: AliasMover,
        champion_version: Callable[[], str],
    ) -> None:
        self.store = store
        self.publisher = publisher
        self.aliases = aliases
        self._champion_version = champion_version

    def status(self) -> RolloutState | None:
        return self.store.load()

    def start(self, spec: RolloutSpec, now: float) -> RolloutState:
        """Begin a rollout; refused while another one is active."""
        current = self.store.load()
        if current is not None and not current.terminal:
            raise RolloutError(
                f"Rollout {current.rollout_id} of version {current.spec.candidate_version} is still in phase "
                f"{current.phase.value}.",
                "Promote or abort it first (driftline rollout promote|abort).",
            )
        saved = self.store.save(start(spec, now))
        self._publish(saved)
        return saved

    def tick(self, observation: Observation) -> Decision:
        """One control-loop iteration: fold in the routers' window and apply the decision."""
        return self._apply(step(self._require(), observation))

    def promote(self, now: float, reason: str = "manual promote") -> Decision:
        return self._apply(promote(self._require(), now, reason))

    def abort(self, now: float, reason: str = "manual abort") -> Decision:
        return self._apply(abort(self._require(), now, reason))

    def reconcile(self) -> RolloutState | None:
        """Re-apply the stored state's traffic and aliases (idempotent); call after a restart."""
        state = self.store.load()
        if state is not None:
            self._publish(state)
            self._move_aliases(state)
        return state

    def _require(self) -> RolloutState:
        state = self.store.load()
        if state is None:
            raise RolloutError("No rollout has been started.", "Start one with driftline rollout start.")
        return state

    def _apply(self, decision: Decision) -> Decision:
        if decision.state.terminal and decision.action is Action.HOLD:
            return decision  # finished earlier: nothing to save or apply
        saved = self.store.save(decision.state)
        decision = Decision(decision.action, saved, decision.reason, decision.evidence)
        if decision.action is not Action.HOLD:
            self._publish(saved)
            self._move_aliases(saved)
        return decision

    def _publish(self, state: RolloutState) -> None:
        self.publisher.publish(traffic_for(state, self._champion_version()))

    def _move_aliases(self, state: RolloutState) -> None:
        if state.phase is Phase.PROMOTED:
            self.aliases.promote(state.spec.candidate_version)
        elif state.phase is Phase.ROLLED_BACK:
            self.aliases.rollback()
