"""Request ids the router issues: 32 hex digits laid out as a UUID version 7, so each id carries its time.

Time-ordered ids keep the label index's inserts at the end of its B-tree, and a label for a prediction the index
has already pruned can still be told ``expired`` (its id says when it was issued) rather than ``unknown``. The id
is signed into the feedback token, so a client cannot forge an older or newer time.

>>> rid = new_request_id(1767225600.123)
>>> len(rid), rid[12]
(32, '7')
>>> issued_at(rid)
1767225600.123
>>> issued_at("r1") is None  # an id from elsewhere (a test, an older version) carries no time
True
"""

from __future__ import annotations

import re
import secrets

__all__ = ["issued_at", "new_request_id"]

_V7 = re.compile(r"[0-9a-f]{12}7[0-9a-f]{3}[89ab][0-9a-f]{15}")


def new_request_id(now: float) -> str:
    """A fresh id issued at Unix time ``now``: 48 bits of milliseconds, the version, 74 random bits."""
    millis = round(now * 1000) & ((1 << 48) - 1)
    rand = secrets.randbits(74)
    value = (millis << 80) | (0x7 << 76) | ((rand >> 62) << 64) | (0b10 << 62) | (rand & ((1 << 62) - 1))
    return f"{value:032x}"


def issued_at(request_id: str) -> float | None:
    """Unix seconds at which a router issued ``request_id``; None for an id it did not issue."""
    if not _V7.fullmatch(request_id):
        return None
    return int(request_id[:12], 16) / 1000.0
