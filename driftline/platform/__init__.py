"""The glue on top, imported by nothing inside driftline: retrain policy, control loop, backtest, the admin HTTP
client, CLI and demo."""

from __future__ import annotations

from driftline.core.lazy import lazy_getattr

_EXPORTS = {
    "Decision": "driftline.platform.policy",
    "DecisionKind": "driftline.platform.policy",
    "PolicyState": "driftline.platform.policy",
    "decide": "driftline.platform.policy",
    "PolicyConfig": "driftline.platform.policy_config",
    "Strategy": "driftline.platform.policy_config",
    "ControlLoop": "driftline.platform.control_loop",
    "ControlLoopConfig": "driftline.platform.control_loop",
    "AdminClient": "driftline.platform.admin_client",
    "run_backtest": "driftline.platform.backtest",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_getattr(__name__, _EXPORTS)
