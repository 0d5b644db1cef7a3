"""The one client of the Serve app's admin API, used by the CLI and the control loop.

``GET /rollout`` is open to read; ``POST /rollout``, ``/rollout/promote`` and ``/rollout/abort`` send the bearer
token. A server that is not running is a one-line :class:`~driftline.core.errors.ServingError`, a refused call a
:class:`~driftline.core.errors.RolloutError` carrying the server's answer, never a traceback.
"""

from __future__ import annotations

from typing import Any

from driftline.core.errors import RolloutError, ServingError

__all__ = ["AdminClient"]


class AdminClient:
    """``status()``, ``start(spec)``, ``promote()``, ``abort()`` against ``base_url``; each returns the JSON body."""

    def __init__(self, base_url: str, token: str | None, timeout: float = 30.0) -> None:
        import httpx

        self.base_url = base_url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._client = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout)

    def status(self) -> dict[str, Any]:
        return self._call("GET", "/rollout")

    def start(self, spec: dict[str, Any], force: bool = False) -> dict[str, Any]:
        """Start a rollout; ``force`` rolls out a version whose offline gates failed (recorded on the timeline)."""
        return self._call("POST", "/rollout?force=true" if force else "/rollout", json=spec)

    def promote(self) -> dict[str, Any]:
        return self._call("POST", "/rollout/promote")

    def abort(self) -> dict[str, Any]:
        return self._call("POST", "/rollout/abort")

    def _call(self, method: str, path: str, json: dict[str, Any] | None = None) -> dict[str, Any]:
        import httpx

        try:
            response = self._client.request(method, path, json=json)
        except httpx.TransportError as exc:
            raise ServingError(
                f"The driftline Serve app at {self.base_url} did not answer {method} {path}: {exc}.",
                "Start it with `driftline serve` (or pass --url with the app's address).",
            ) from None
        if response.status_code >= 400:
            raise RolloutError(
                f"{method} {path} was refused with HTTP {response.status_code}: {response.text[:2000]}",
                "A 401/403 needs DRIFTLINE_ADMIN_TOKEN set to the app's admin token.",
            )
        return dict(response.json())
