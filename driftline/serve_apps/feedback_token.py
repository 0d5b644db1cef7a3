"""Who may label a prediction: whoever received it. Each answered row carries a feedback token.

The router issues the request id itself (a client's ``X-Request-Id`` is kept beside it as ``client_request_id``,
never used as a key), and returns one token per row: ``HMAC-SHA256(secret, "<request_id>:<row>")``. ``/feedback``
accepts a label only with the row's token, or from a caller holding the admin token (a trusted label pipeline).
So nobody can label requests they never made, overwrite another request's entry, or skew a canary with made-up
labels. Tokens are stateless: every router replica checks them with the shared secret, with no lookup.

The secret is ``$DRIFTLINE_FEEDBACK_SECRET`` when set (one Kubernetes Secret for all replicas), else a random key
created once in ``<workdir>/state/feedback.key`` (mode 0600) and read by every replica from the shared work folder.

>>> signer = FeedbackSigner(b"k" * 32)
>>> token = signer.sign("a1b2", 0)
>>> signer.verify("a1b2", 0, token), signer.verify("a1b2", 1, token), signer.verify("a1b2", 0, None)
(True, False, False)
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from pathlib import Path

__all__ = ["FEEDBACK_SECRET_ENV", "FeedbackSigner", "load_secret"]

FEEDBACK_SECRET_ENV = "DRIFTLINE_FEEDBACK_SECRET"
_KEY_FILE = "feedback.key"


class FeedbackSigner:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def sign(self, request_id: str, row: int) -> str:
        return hmac.new(self._secret, f"{request_id}:{row}".encode(), hashlib.sha256).hexdigest()[:32]

    def verify(self, request_id: str, row: int, token: str | None) -> bool:
        return isinstance(token, str) and hmac.compare_digest(self.sign(request_id, row), token)


def load_secret(state_dir: Path) -> bytes:
    """The shared secret: from the environment, else the work folder's key file (created once, atomically)."""
    configured = os.environ.get(FEEDBACK_SECRET_ENV)
    if configured:
        return configured.encode()
    path = Path(state_dir) / _KEY_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass  # another replica created it first: use theirs
    else:
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
            fh.flush()
            os.fsync(fh.fileno())
    for _ in range(50):  # the creator may still be writing it
        text = path.read_text().strip()
        if text:
            return text.encode()
        time.sleep(0.01)
    raise OSError(f"{path} stays empty; delete it so a new key is created")
