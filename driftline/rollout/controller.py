"""The thin controller: load state, call the pure machine, save, then apply side effects through adapters.

Order per change: save the state first (it is the source of truth), then publish traffic, then move the
MLflow aliases. The adapters are idempotent; an effect that failed (MLflow down at promotion, say) stays pending
and :meth:`reconcile_pending` re-applies the stored state's effects at every tick until they took. A restarted
controller starts with everything pending. One lock serialises every operation (the tick thread and the admin
calls), so a load-decide-save never interleaves with another: an operator's abort is never overwritten.

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

import contextlib
import threading
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

    def promote(self, candidate_version: str, reason: str = "") -> None: ...

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
        self._lock = threading.RLock()
        self._applied: int | None = None  # revision whose effects all took; None: unknown (e.g. after a restart)
        self.effect_error: str | None = None

    def status(self) -> RolloutState | None:
        return self.store.load()

    def start(self, spec: RolloutSpec, now: float) -> RolloutState:
        """Begin a rollout; refused while another one is active."""
        with self._lock:
            current = self.store.load()
            if current is not None and not current.terminal:
                raise RolloutError(
                    f"Rollout {current.rollout_id} of version {current.spec.candidate_version} is still in phase "
                    f"{current.phase.value}.",
                    "Promote or abort it first (driftline rollout promote|abort).",
                )
            saved = self.store.save(start(spec, now))
            self._effects(saved, aliases=False)
            return saved

    def tick(self, observation: Observation) -> Decision:
        """One control-loop iteration: fold in the routers' window and apply the decision."""
        with self._lock:
            return self._apply(step(self._require(), observation))

    def promote(self, now: float, reason: str = "manual promote") -> Decision:
        with self._lock:
            return self._apply(promote(self._require(), now, reason))

    def abort(self, now: float, reason: str = "manual abort") -> Decision:
        with self._lock:
            return self._apply(abort(self._require(), now, reason))

    def reconcile(self) -> RolloutState | None:
        """Re-apply the stored state's traffic and aliases (idempotent); raises when an effect fails."""
        with self._lock:
            state = self.store.load()
            if state is not None:
                self._effects(state)
            return state

    def reconcile_pending(self) -> bool:
        """Re-apply the stored state's effects unless they already took; True when nothing is pending now."""
        with self._lock:
            state = self.store.load()
            if state is None or state.revision == self._applied:
                return True
            try:
                self._effects(state)
            except Exception:  # recorded in effect_error; tried again at the next tick
                return False
            return True

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
            with contextlib.suppress(Exception):  # the decision stands; its effects stay pending until they take
                self._effects(saved)
        return decision

    def _effects(self, state: RolloutState, aliases: bool = True) -> None:
        """Publish the state's traffic and move its aliases; remember the revision once both took."""
        try:
            self.publisher.publish(traffic_for(state, self._champion_version()))
            if aliases and state.phase is Phase.PROMOTED:
                reason = state.history[-1].reason if state.history else "promoted"
                self.aliases.promote(state.spec.candidate_version, reason)
            elif aliases and state.phase is Phase.ROLLED_BACK:
                self.aliases.rollback()
        except Exception as exc:
            self.effect_error = f"{type(exc).__name__}: {exc}"
            self._applied = None
            raise
        self.effect_error, self._applied = None, state.revision
