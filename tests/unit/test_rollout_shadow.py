"""Shadow, tick by tick: pass -> promote or canary, fail on errors, latency or disagreement."""

from __future__ import annotations

from driftline.rollout.counters import Observation, VariantCounters
from driftline.rollout.machine import start, step, traffic_for
from driftline.rollout.phases import Action, Phase
from driftline.rollout.spec import RolloutSpec
from driftline.rollout.state import RolloutState
from driftline.rollout.traffic import TrafficMode


def window(n: int, errors: int = 0, latency: float = 0.010, compared: int = 0, agreed: int = 0) -> VariantCounters:
    return VariantCounters.from_samples([latency] * n, errors=errors, compared=compared, agreed=agreed)


def begin(**shadow: object) -> RolloutState:
    spec = {"fraction": 0.5, "min_requests": 200, "max_error_rate": 0.02, "max_p99_ratio": 1.5, **shadow}
    return start(RolloutSpec(mode="shadow", candidate_version="4", shadow=spec), now=0.0)


def test_shadow_serves_no_user_traffic() -> None:
    state = begin()
    cfg = traffic_for(state, "3")
    assert (state.phase, cfg.mode, cfg.candidate_weight, cfg.shadow_fraction) == (
        Phase.SHADOW,
        TrafficMode.SHADOW,
        0.0,
        0.5,
    )


def test_shadow_pass_promotes_after_min_requests() -> None:
    d = step(begin(), Observation(5.0, window(300), window(150)))
    assert d.action is Action.HOLD and "150/200" in d.reason
    d = step(d.state, Observation(10.0, window(300), window(100, errors=1)))
    assert d.action is Action.PROMOTE and d.state.phase is Phase.PROMOTED


def test_shadow_pass_then_canary() -> None:
    d = step(begin(then_canary=True), Observation(10.0, window(400), window(250)))
    assert d.action is Action.ADVANCE and d.state.phase is Phase.CANARY
    assert d.state.candidate_weight == 0.05 and d.state.shadow_fraction == 0.0  # the default first step
    assert traffic_for(d.state, "3").mode is TrafficMode.CANARY


def test_shadow_error_rate_fails() -> None:
    d = step(begin(), Observation(10.0, window(400), window(250, errors=25)))
    assert d.action is Action.ROLLBACK and "shadow_error_rate 0.1" in d.reason
    assert traffic_for(d.state, "3").mode is TrafficMode.NONE


def test_shadow_latency_fails() -> None:
    d = step(begin(), Observation(10.0, window(400, latency=0.01), window(250, latency=0.03)))
    assert d.action is Action.ROLLBACK and "p99_latency_ratio" in d.reason


def test_shadow_agreement_is_reported_and_can_fail() -> None:
    d = step(begin(), Observation(10.0, window(400), window(250, compared=250, agreed=200)))
    assert d.action is Action.PROMOTE and d.evidence["agreement"] == 0.8  # reported only
    d = step(begin(min_agreement=0.9), Observation(10.0, window(400), window(250, compared=250, agreed=200)))
    assert d.action is Action.ROLLBACK and "agreement_with_champion 0.8" in d.reason
