"""HTTP plumbing of the router: the body read within its size limit, the one error shape, request identity.

>>> error(413, "body_too_large", "too big").status_code
413
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from driftline.serve_apps.payload import PayloadError

__all__ = [
    "RouteRefusal",
    "cause",
    "client_request_id",
    "error",
    "read_body",
    "read_json",
    "v2_error",
    "validation_error",
]


def client_request_id(request: Request) -> str | None:
    """The client's own ``X-Request-Id`` (kept for its tracing, never a key: the router issues the key)."""
    value = request.headers.get("x-request-id")
    return value[:200] if value else None


def cause(err: BaseException) -> BaseException:
    """The user-level exception inside a Ray task error (whose str() carries a remote traceback)."""
    return getattr(err, "cause", None) or err


def error(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    """The API's one error body: ``{"error": {"code", "message", ...}}``."""
    return JSONResponse({"error": {"code": code, "message": message, **extra}}, status_code=status)


def validation_error(code: str, errors: Sequence[Any]) -> JSONResponse:
    """A 422 naming the first field pydantic (or FastAPI) refused, its message and the value it got."""
    first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
    field = ".".join(str(p) for p in first["loc"])
    got = f" (got {first['input']!r})" if "input" in first else ""
    return error(422, code, f"{field}: {first['msg']}{got}", field=field)


_PARSE_INLINE_BYTES = 16 * 1024  # smaller bodies are parsed on the event loop (deep nesting fails fast either way)


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The raw body; its size is checked before (and while) reading."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise PayloadError(413, "body_too_large", f"The body has {declared} bytes; the limit is {max_bytes}.")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise PayloadError(413, "body_too_large", f"The body exceeds the limit of {max_bytes} bytes.")
    return bytes(body)


async def read_json(request: Request, max_bytes: int) -> Any:
    """The parsed body; its size is checked before (and while) reading, and it is parsed off the event loop."""
    body = await read_body(request, max_bytes)
    try:
        if len(body) <= _PARSE_INLINE_BYTES:  # microseconds: a thread hop would cost more than the parse
            return json.loads(body)
        return await asyncio.to_thread(json.loads, body)
    except (ValueError, RecursionError):  # RecursionError: JSON nested thousands deep
        raise PayloadError(400, "bad_json", "The body is not valid JSON (or nests too deep).") from None


class RouteRefusal(Exception):
    """A route cannot be served: its model is unknown (404) or cannot answer yet (503); the answer to give."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def response(self) -> JSONResponse:
        answer = error(self.status, self.code, self.message)
        if self.status == 503:
            answer.headers["Retry-After"] = "1"
        return answer


def v2_error(status: int, message: str) -> JSONResponse:
    """An error in the Open Inference Protocol's shape."""
    return JSONResponse({"error": message}, status_code=status)
