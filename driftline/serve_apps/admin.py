"""Bearer-token check for the admin API (it changes production traffic).

The token comes from ``$DRIFTLINE_ADMIN_TOKEN`` (or ``serve.admin_token`` in the config); without one the admin
API is disabled. Comparison is constant-time and the token is never logged.

>>> check_bearer("Bearer s3cret", "s3cret"), check_bearer("Bearer nope", "s3cret"), check_bearer(None, "s3cret")
(True, False, False)
"""

from __future__ import annotations

import hmac
import os

__all__ = ["ADMIN_TOKEN_ENV", "check_bearer", "resolve_admin_token"]

ADMIN_TOKEN_ENV = "DRIFTLINE_ADMIN_TOKEN"


def resolve_admin_token(configured: str | None) -> str | None:
    """The environment wins over the config file (secrets belong in the environment)."""
    return os.environ.get(ADMIN_TOKEN_ENV) or configured or None


def check_bearer(header: str | None, token: str | None) -> bool:
    if not token or not header:
        return False
    scheme, _, presented = header.partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(presented.strip().encode(), token.encode())
