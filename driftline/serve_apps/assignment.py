"""Sticky, monotone traffic assignment: a stable hash of (salt, key) into buckets.

A key (user id, else request id) always lands in the same bucket for a given salt, so a user keeps their
variant across requests, replicas and restarts. The candidate gets buckets ``[0, round(weight * buckets))``,
so raising the weight (a canary going 10% -> 25%) only moves keys from champion to candidate. Shadow
selection hashes with a different salt suffix, so which requests are mirrored is independent of the variant.
blake2b (not ``hash()``, which is salted per process) keeps buckets identical in every router replica.

>>> assign_variant("s", "user-42", 0.0), assign_variant("s", "user-42", 1.0)
('champion', 'candidate')
>>> bucket("s", "user-42") == bucket("s", "user-42")
True
"""

from __future__ import annotations

import hashlib
from typing import Literal

from driftline.core.errors import RolloutError

__all__ = ["DEFAULT_BUCKETS", "assign_variant", "bucket", "shadow_selected"]

DEFAULT_BUCKETS = 10_000
_SHADOW_SUFFIX = "\x1fshadow"
Variant = Literal["champion", "candidate"]


def bucket(salt: str, key: str, buckets: int = DEFAULT_BUCKETS) -> int:
    """Bucket in ``[0, buckets)`` for ``key``; a 64-bit digest makes the modulo bias negligible."""
    if buckets < 1:
        raise RolloutError(f"buckets={buckets} must be >= 1.", "Use the default 10_000.")
    # The unit separator keeps ("a", "bc") and ("ab", "c") apart.
    digest = hashlib.blake2b(f"{salt}\x1f{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % buckets


def _threshold(share: float, buckets: int, name: str) -> int:
    if not 0.0 <= share <= 1.0:
        raise RolloutError(f"{name}={share!r} is outside [0, 1].", "Pass a share such as 0.25.")
    return round(share * buckets)


def assign_variant(salt: str, key: str, candidate_weight: float, buckets: int = DEFAULT_BUCKETS) -> Variant:
    """'candidate' for the lowest ``candidate_weight`` share of buckets, else 'champion'."""
    if bucket(salt, key, buckets) < _threshold(candidate_weight, buckets, "candidate_weight"):
        return "candidate"
    return "champion"


def shadow_selected(salt: str, key: str, fraction: float, buckets: int = DEFAULT_BUCKETS) -> bool:
    """Whether this request is mirrored to the candidate; independent of :func:`assign_variant`'s bucket."""
    return bucket(salt + _SHADOW_SUFFIX, key, buckets) < _threshold(fraction, buckets, "shadow_fraction")
