"""Find a Serve replica's process and wait for Serve to replace it (fault-injection tests)."""

from __future__ import annotations

import time


def live_replica(app: str, deployment: str) -> tuple[str, int] | None:
    """(actor id, pid) of the deployment's live replica (one per deployment here), from the GCS actor table.

    ``ray.util.state.list_actors`` says the same but needs the dashboard, which the session's Ray runs without.
    """
    from ray._private.state import actors

    name = f"ServeReplica:{app}:{deployment}"
    alive = [a for a in actors(actor_state_name="ALIVE").values() if a["ActorClassName"] == name]
    return (alive[0]["ActorID"], int(alive[0]["Pid"])) if alive else None


def wait_replaced(app: str, deployment: str, killed: str, timeout: float = 60.0) -> None:
    """Until Serve runs a new replica of ``deployment`` and reports the application healthy again."""
    from ray import serve

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        replica = live_replica(app, deployment)
        if replica is not None and replica[0] != killed:
            status = serve.status().applications[app]
            if status.status == "RUNNING" and status.deployments[deployment].status == "HEALTHY":
                return
        time.sleep(0.2)
    raise AssertionError(f"Serve did not replace the killed {deployment} replica within {timeout} s")
