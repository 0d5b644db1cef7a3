"""Pure decision logic for deployments: phases, spec, traffic, counters, the machine with one file per mode
(``shadow``, ``canary``, ``ab``), the state store and the thin controller that applies decisions through Protocols.

No Ray, no MLflow, no torch: the machine is tested tick by tick with plain values.
"""

from __future__ import annotations

from driftline.core.lazy import lazy_getattr

_EXPORTS = {
    "Phase": "driftline.rollout.phases",
    "Action": "driftline.rollout.phases",
    "Observation": "driftline.rollout.counters",
    "VariantCounters": "driftline.rollout.counters",
    "LatencyHistogram": "driftline.rollout.counters",
    "RolloutState": "driftline.rollout.state",
    "Decision": "driftline.rollout.state",
    "Transition": "driftline.rollout.state",
    "RolloutSpec": "driftline.rollout.spec",
    "RolloutMode": "driftline.rollout.spec",
    "TrafficConfig": "driftline.rollout.traffic",
    "TrafficMode": "driftline.rollout.traffic",
    "start": "driftline.rollout.machine",
    "step": "driftline.rollout.machine",
    "promote": "driftline.rollout.machine",
    "abort": "driftline.rollout.machine",
    "traffic_for": "driftline.rollout.machine",
    "RolloutStore": "driftline.rollout.store",
    "RolloutController": "driftline.rollout.controller",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_getattr(__name__, _EXPORTS)
