"""Bearer-token check for the admin API (it changes production traffic).

The token comes from ``$DRIFTLINE_ADMIN_TOKEN`` (or ``serve.admin_token`` in the config); on a cluster, give the
router only its SHA-256 digest, ``$DRIFTLINE_ADMIN_TOKEN_SHA256``, so the token itself never enters a pod. Without
either the admin API is disabled. Comparison is constant-time and the token is never logged.

>>> check_bearer("Bearer s3cret", "s3cret"), check_bearer("Bearer nope", "s3cret"), check_bearer(None, "s3cret")
(True, False, False)
>>> auth = AdminAuth(hashlib.sha256(b"s3cret").hexdigest())
>>> auth.check("Bearer s3cret"), auth.check("Bearer s3cre"), AdminAuth(None).enabled
(True, False, False)
"""

from __future__ import annotations

import hashlib
import hmac
import os

__all__ = [
    "ADMIN_TOKEN_ENV",
    "ADMIN_TOKEN_SHA256_ENV",
    "LABELLER_TOKEN_ENV",
    "LABELLER_TOKEN_SHA256_ENV",
    "AdminAuth",
    "check_bearer",
    "resolve_admin_token",
    "resolve_labeller_token",
]

ADMIN_TOKEN_ENV = "DRIFTLINE_ADMIN_TOKEN"
ADMIN_TOKEN_SHA256_ENV = "DRIFTLINE_ADMIN_TOKEN_SHA256"
# A label pipeline's credential: it may label (by business key or request id) and nothing else.
LABELLER_TOKEN_ENV = "DRIFTLINE_LABELLER_TOKEN"
LABELLER_TOKEN_SHA256_ENV = "DRIFTLINE_LABELLER_TOKEN_SHA256"


def resolve_admin_token(configured: str | None) -> str | None:
    """The environment wins over the config file (secrets belong in the environment)."""
    return os.environ.get(ADMIN_TOKEN_ENV) or configured or None


def resolve_labeller_token(configured: str | None) -> str | None:
    """The labeller token: the environment, then the config file."""
    return os.environ.get(LABELLER_TOKEN_ENV) or configured or None


def check_bearer(header: str | None, token: str | None) -> bool:
    if not token or not header:
        return False
    scheme, _, presented = header.partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(presented.strip().encode(), token.encode())


def _presented(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, presented = header.partition(" ")
    return presented.strip() if scheme.lower() == "bearer" else None


class AdminAuth:
    """Checks a presented bearer token against the SHA-256 digest of the admin token."""

    def __init__(self, digest: str | None) -> None:
        self._digest = digest.lower() if digest else None

    @classmethod
    def from_env(cls, configured: str | None) -> AdminAuth:
        """The admin credential: ``$DRIFTLINE_ADMIN_TOKEN_SHA256``, else the digest of the admin token."""
        digest = os.environ.get(ADMIN_TOKEN_SHA256_ENV)
        token = resolve_admin_token(configured)
        return cls(digest or (hashlib.sha256(token.encode()).hexdigest() if token else None))

    @classmethod
    def labeller_from_env(cls, configured: str | None) -> AdminAuth:
        """The labeller credential: ``$DRIFTLINE_LABELLER_TOKEN_SHA256``, else the digest of the labeller token."""
        digest = os.environ.get(LABELLER_TOKEN_SHA256_ENV)
        token = resolve_labeller_token(configured)
        return cls(digest or (hashlib.sha256(token.encode()).hexdigest() if token else None))

    @property
    def enabled(self) -> bool:
        return self._digest is not None

    def check(self, header: str | None) -> bool:
        presented = _presented(header)
        if self._digest is None or presented is None:
            return False
        return hmac.compare_digest(hashlib.sha256(presented.encode()).hexdigest(), self._digest)
