"""Sticky, monotone traffic assignment: a stable hash of (salt, key) into buckets.

A key (user id, else request id) always lands in the same bucket for a given salt, so a user keeps their
variant across requests, replicas and restarts. The candidate gets buckets ``[0, round(weight * buckets))``,
so raising the weight (a canary going 10% -> 25%) only moves keys from champion to candidate. Shadow
selection hashes with a different salt suffix, so which requests are mirrored is independent of the variant.
blake2b (not ``hash()``, which is salted per process) keeps buckets identical in every router replica.

>>> [str(assign_variant("s", "user-42", weight)) for weight in (0.0, 1.0)]
['champion', 'candidate']
>>> bucket("s", "user-42") == bucket("s", "user-42")
True

:func:`route` is the whole decision for one request, from the traffic config alone:

>>> from driftline.rollout.traffic import TrafficConfig, TrafficMode
>>> route(TrafficConfig("3", "4", TrafficMode.SHADOW, shadow_fraction=1.0), "user-42", "r1")
Route(variant=<Variant.CHAMPION: 'champion'>, mirror=True)
"""

from __future__ import annotations

import hashlib
from typing import NamedTuple

from driftline.core.errors import RolloutError
from driftline.core.records import Variant
from driftline.rollout.traffic import TrafficConfig, TrafficMode

__all__ = ["DEFAULT_BUCKETS", "Route", "assign_variant", "bucket", "route", "shadow_selected"]

DEFAULT_BUCKETS = 10_000
_SHADOW_SUFFIX = "\x1fshadow"


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
        return Variant.CANDIDATE
    return Variant.CHAMPION


def shadow_selected(salt: str, key: str, fraction: float, buckets: int = DEFAULT_BUCKETS) -> bool:
    """Whether this request is mirrored to the candidate; independent of :func:`assign_variant`'s bucket."""
    return bucket(salt + _SHADOW_SUFFIX, key, buckets) < _threshold(fraction, buckets, "shadow_fraction")


class Route(NamedTuple):
    """Which variant answers a request, and whether a copy goes to the candidate as a shadow."""

    variant: Variant
    mirror: bool


def route(traffic: TrafficConfig, user_key: str | None, request_id: str) -> Route:
    """The variant for a request (sticky on ``user_key``, else the request id) and whether it is mirrored."""
    if traffic.candidate_version is None:
        return Route(Variant.CHAMPION, False)
    if traffic.mode in (TrafficMode.AB, TrafficMode.CANARY):
        return Route(assign_variant(traffic.salt, user_key or request_id, traffic.candidate_weight), False)
    if traffic.mode is TrafficMode.SHADOW:
        return Route(Variant.CHAMPION, shadow_selected(traffic.salt, request_id, traffic.shadow_fraction))
    return Route(Variant.CHAMPION, False)
