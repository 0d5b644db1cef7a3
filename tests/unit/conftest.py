"""Unit tests are pure: starting Ray here is a bug, so ray.init raises."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _forbid_ray(monkeypatch: pytest.MonkeyPatch) -> None:
    import ray

    def _refuse(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("Unit tests must not start Ray; move this test to tests/integration.")

    monkeypatch.setattr(ray, "init", _refuse)
