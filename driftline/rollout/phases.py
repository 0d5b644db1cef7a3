"""The rollout's phases, their transition table and the actions a step can take.

>>> sorted(p.value for p in TERMINAL_PHASES)
['PROMOTED', 'ROLLED_BACK']
"""

from __future__ import annotations

from enum import Enum

__all__ = ["TERMINAL_PHASES", "TRANSITIONS", "Action", "Phase"]


class Phase(str, Enum):
    PENDING = "PENDING"
    SHADOW = "SHADOW"
    AB_TEST = "AB_TEST"
    CANARY = "CANARY"
    PROMOTED = "PROMOTED"
    ROLLED_BACK = "ROLLED_BACK"


# CANARY -> CANARY is a step advance or a counted failed check; both are recorded with their evidence.
TRANSITIONS: dict[Phase, frozenset[Phase]] = {
    Phase.PENDING: frozenset({Phase.SHADOW, Phase.CANARY, Phase.AB_TEST, Phase.ROLLED_BACK}),
    Phase.SHADOW: frozenset({Phase.CANARY, Phase.PROMOTED, Phase.ROLLED_BACK}),
    Phase.CANARY: frozenset({Phase.CANARY, Phase.PROMOTED, Phase.ROLLED_BACK}),
    Phase.AB_TEST: frozenset({Phase.PROMOTED, Phase.ROLLED_BACK}),
    Phase.PROMOTED: frozenset(),
    Phase.ROLLED_BACK: frozenset(),
}
TERMINAL_PHASES: frozenset[Phase] = frozenset(p for p, nxt in TRANSITIONS.items() if not nxt)


class Action(str, Enum):
    HOLD = "HOLD"
    ADVANCE = "ADVANCE"
    PROMOTE = "PROMOTE"
    ROLLBACK = "ROLLBACK"
