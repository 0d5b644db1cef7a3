"""Submit the retrain job to a Ray cluster through ``JobSubmissionClient`` (the ``ray job submit`` API).

Ray 2.60 token authentication: a *local* ``ray.init()`` that starts a cluster enables token auth by default
(``RAY_AUTH_MODE`` unset) and writes a token to ``~/.ray/auth_token`` if none exists; ``ray start --head`` enables it
when a token already exists (``RAY_AUTH_TOKEN``, ``RAY_AUTH_TOKEN_PATH`` or ``~/.ray/auth_token``). The job API then
answers 401 without ``Authorization: Bearer <token>``. ``JobSubmissionClient`` adds that header only when *this*
process runs in token mode, so this helper resolves the token itself, in Ray's order (explicit argument,
``$RAY_AUTH_TOKEN``, the file at ``$RAY_AUTH_TOKEN_PATH``, ``~/.ray/auth_token``) and always sends it when found;
a cluster with auth disabled ignores it. ``RAY_AUTH_MODE=disabled`` on both sides turns auth off.

>>> entrypoint_for(Path("configs/local.yaml"), None, ["--window-rows", "6000:8000"])
'python -m driftline.train_jobs.retrain --config configs/local.yaml --window-rows 6000:8000'
"""

from __future__ import annotations

import os
import shlex
import time
from pathlib import Path
from typing import Any

from driftline.core.errors import DriftlineError, TrainingError

__all__ = ["auth_headers", "entrypoint_for", "resolve_token", "submit_retrain", "wait_for_job"]

DEFAULT_DASHBOARD = "http://127.0.0.1:8265"


def resolve_token(token: str | None = None) -> str | None:
    """The Ray auth token to send, or None when there is none (a cluster without token auth)."""
    if token:
        return token.strip()
    if os.environ.get("RAY_AUTH_TOKEN"):
        return os.environ["RAY_AUTH_TOKEN"].strip()
    for candidate in (os.environ.get("RAY_AUTH_TOKEN_PATH"), str(Path.home() / ".ray" / "auth_token")):
        if candidate and Path(candidate).is_file():
            text = Path(candidate).read_text().strip()
            if text:
                return text
    return None


def auth_headers(token: str | None = None) -> dict[str, str]:
    found = resolve_token(token)
    return {"Authorization": f"Bearer {found}"} if found else {}


def entrypoint_for(config: Path | None, retrain_config: Path | None, args: list[str], python: str = "python") -> str:
    """The shell command the job runs (paths are relative to the uploaded working dir).

    ``python`` must have driftline's dependencies: on a local cluster started outside the virtualenv, pass
    ``sys.executable``; on a real cluster, the nodes' interpreter (or add ``pip`` to the runtime env).
    """
    parts = [python, "-m", "driftline.train_jobs.retrain"]
    if config is not None:
        parts += ["--config", str(config)]
    if retrain_config is not None:
        parts += ["--retrain-config", str(retrain_config)]
    return shlex.join([*parts, *args])


def submit_retrain(
    address: str | None,
    *,
    config: Path | None = None,
    retrain_config: Path | None = None,
    args: list[str] | None = None,
    working_dir: str | Path = ".",
    token: str | None = None,
    env_vars: dict[str, str] | None = None,
    python: str = "python",
) -> str:
    """Submit ``python -m driftline.train_jobs.retrain ...``; returns the job's submission id.

    ``address`` is the dashboard URL (``http://HOST:8265``); None uses ``$RAY_API_SERVER_ADDRESS``/``$RAY_ADDRESS``
    or the local default. The working dir is uploaded (excluding the work folder and virtualenv).
    """
    from ray.job_submission import JobSubmissionClient

    target = address or os.environ.get("RAY_API_SERVER_ADDRESS") or os.environ.get("RAY_ADDRESS") or DEFAULT_DASHBOARD
    try:
        client = JobSubmissionClient(target, headers=auth_headers(token))
        runtime_env: dict[str, Any] = {
            "working_dir": str(working_dir),
            "excludes": [".driftline", ".venv", ".git", "*.pyc", "__pycache__"],
        }
        if env_vars:
            runtime_env["env_vars"] = env_vars
        return str(
            client.submit_job(
                entrypoint=entrypoint_for(config, retrain_config, list(args or []), python), runtime_env=runtime_env
            )
        )
    except DriftlineError:
        raise
    except Exception as exc:
        hint = "Is the cluster up (`ray start --head`) and the dashboard address right?"
        if "401" in str(exc) or "uthentication" in str(exc):
            hint = (
                "The cluster uses token auth: pass token=..., set RAY_AUTH_TOKEN, or run `ray get-auth-token` on the "
                "head node and copy ~/.ray/auth_token."
            )
        raise TrainingError(f"Could not submit the retrain job to {target}: {exc}", hint) from exc


def wait_for_job(address: str | None, job_id: str, *, token: str | None = None, timeout_s: float = 600) -> str:
    """Poll until the job ends; returns its final status (SUCCEEDED, FAILED, STOPPED)."""
    from ray.job_submission import JobStatus, JobSubmissionClient

    target = address or os.environ.get("RAY_API_SERVER_ADDRESS") or os.environ.get("RAY_ADDRESS") or DEFAULT_DASHBOARD
    client = JobSubmissionClient(target, headers=auth_headers(token))
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = client.get_job_status(job_id)
        if status in {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.STOPPED}:
            return str(status.value)
        time.sleep(1.0)
    raise TrainingError(f"Job {job_id} still running after {timeout_s:.0f}s.", "Check `ray job logs`.")
