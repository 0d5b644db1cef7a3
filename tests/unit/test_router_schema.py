"""The router validates requests and labels against the current champion's schema, read again at a promotion.

The router's own ``_get_schema`` on stand-in model slots (no Ray started): before, it kept the first champion's
schema for its lifetime, so after a promotion to a version with a new class that class's labels were refused
(``unknown_class``) until a restart.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from functools import partial
from types import SimpleNamespace
from typing import Any

from driftline.datasets import SYNTHETIC_SCHEMA
from driftline.rollout.traffic import TrafficConfig
from driftline.serve_apps.feedback import parse_feedback
from driftline.serve_apps.router import Router
from driftline.serve_apps.serving_state import ServingState


def _slot(version: str, classes: tuple[Any, ...], calls: list[str]) -> SimpleNamespace:
    async def info() -> dict[str, Any]:
        calls.append(version)
        return {"version": version, "schema": replace(SYNTHETIC_SCHEMA, classes=classes).to_dict()}

    return SimpleNamespace(info=SimpleNamespace(remote=info))


def test_a_promotion_to_a_version_with_a_new_class_takes_its_labels_at_once() -> None:
    calls: list[str] = []
    router = SimpleNamespace(
        _slots={"a": _slot("1", (0, 1), calls), "b": _slot("2", (0, 1, 2), calls)},
        _schema=None,
        _schema_version=None,
        _openapi={"stale": True},
    )
    get_schema = partial(Router._get_schema, router)
    before = ServingState.initial("1").apply(TrafficConfig("1", "2", revision=1))
    after = before.apply(TrafficConfig("2", None, revision=2))  # promoted: slot b is the champion's
    assert after.champion_slot == "b"

    async def scenario() -> None:
        first = await get_schema(before)
        assert first.classes == (0, 1) and await get_schema(before) is first and calls == ["1"]  # read once
        promoted = await get_schema(after)
        assert promoted.classes == (0, 1, 2) and calls == ["1", "2"] and router._openapi is None
        items, _ = parse_feedback({"request_id": "r", "label": 2}, promoted.classes)
        assert items[0]["label"] == 2

    asyncio.run(scenario())
