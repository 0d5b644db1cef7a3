"""Retrain policy: one test per path, a 48-hour noisy-trigger simulation, and random reports for the invariants."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from driftline.core.config_loader import load_yaml_model
from driftline.core.errors import ConfigError, DataError
from driftline.platform.policy import Decision, DecisionKind, Guard, PolicyState, decide
from driftline.platform.policy_config import PolicyConfig, Strategy, parse_duration

T0 = datetime(2024, 3, 1, tzinfo=timezone.utc)
H = timedelta(hours=1)
REPO = Path(__file__).resolve().parents[2]


def _report(
    current: float | None = 0.90,
    baseline: float = 0.91,
    p_value: float | None = 0.3,
    share: float = 0.0,
    dataset_drift: bool = False,
    tv: float | None = 0.0,
    class_weights: dict[str, float] | None = None,
) -> dict[str, Any]:
    performance = None
    if current is not None:
        performance = {
            "metric": "accuracy",
            "baseline": baseline,
            "current": current,
            "ci_low": current - 0.02,
            "ci_high": current + 0.02,
            "p_value": p_value,
            "n": 1000,
            "decayed": p_value is not None and p_value < 0.01,
        }
    return {
        "schema_version": "1.0",
        "summary": {
            "drifted_features": [f"x{i}" for i in range(round(share * 10))],
            "share_drifted": share,
            "dataset_drift": dataset_drift,
            "method": "share",
            "label_shift": bool(tv and tv >= 0.1),
            "performance_decay": performance is not None and performance["decayed"],
        },
        "performance": performance,
        "label_shift": {
            "reference_prior": {"0": 0.6, "1": 0.4},
            "observed_prior": None,
            "predicted_prior": {"0": 0.6 - (tv or 0), "1": 0.4 + (tv or 0)},
            "estimated_prior": {"0": 0.6 - (tv or 0), "1": 0.4 + (tv or 0)},
            "class_weights": class_weights,
            "total_variation": tv,
            "shift_detected": bool(tv and tv >= 0.1),
        },
        "window": {"start": None, "end": None, "rows": 2000, "labelled_rows": 1000},
    }


DECAYED = {"current": 0.74, "p_value": 1e-6}


def _state(labelled: int = 1000, **changes: Any) -> PolicyState:
    state = PolicyState.start(T0).observe(rows=2 * labelled, labelled_rows=labelled)
    return PolicyState(**{**state.__dict__, **changes})


def _cfg(strategy: str = "triggered", **sections: Any) -> PolicyConfig:
    return PolicyConfig.model_validate({"strategy": strategy, **sections})


# -- never ------------------------------------------------------------------------------------------------------------


def test_never_skips_but_records_the_trigger() -> None:
    d = decide(_state(), _report(**DECAYED), T0, _cfg("never"))
    assert d.kind is DecisionKind.SKIP and d.suppressed_by is None
    assert d.triggers == ("performance",)
    assert d.reason.startswith("strategy is 'never'") and "0.91 -> 0.74" in d.reason


# -- periodic ---------------------------------------------------------------------------------------------------------


def test_periodic_by_rows_due_and_not_due() -> None:
    cfg = _cfg("periodic", periodic={"every_rows": 5000})
    not_due = decide(_state(labelled=1200), None, T0 + H, cfg)
    assert not_due.kind is DecisionKind.SKIP and "1200 of 5000 new labelled rows" in not_due.reason
    due_state = _state(labelled=5200)
    due = decide(due_state, None, T0 + H, cfg)  # a report is not needed for a schedule
    assert due.kind is DecisionKind.RETRAIN and "5200 of 5000" in due.reason
    after = due_state.after(due, T0 + H)
    assert after.new_labelled_rows == 0 and after.rows_since_retrain == 0 and after.retrain_times == (T0 + H,)
    assert decide(after.observe(4000, 4000), None, T0 + 8 * H, cfg).kind is DecisionKind.SKIP


def test_periodic_by_time_due_and_not_due() -> None:
    cfg = _cfg("periodic", periodic={"every_rows": None, "every": "24h"})
    assert decide(_state(), None, T0 + 23 * H, cfg).kind is DecisionKind.SKIP
    assert "23.0 h of 24 h" in decide(_state(), None, T0 + 23 * H, cfg).reason
    assert decide(_state(), None, T0 + 24 * H, cfg).kind is DecisionKind.RETRAIN
    # due by time but no new labelled data: the min_rows guard holds it back, visibly
    idle = decide(_state(labelled=0), None, T0 + 30 * H, cfg)
    assert idle.kind is DecisionKind.SKIP and idle.suppressed_by is Guard.MIN_ROWS
    assert "periodic retrain due" in idle.reason and "0 of 500" in idle.reason


def test_periodic_needs_a_declared_schedule() -> None:
    with pytest.raises(ValueError, match=r"every_rows or periodic\.every"):
        _cfg("periodic", periodic={"every_rows": None, "every": None})


# -- triggered: each trigger ------------------------------------------------------------------------------------------


def test_triggered_by_performance_decay() -> None:
    d = decide(_state(), _report(**DECAYED), T0, _cfg())
    assert d.kind is DecisionKind.RETRAIN and d.triggers == ("performance",)
    assert "accuracy decayed 0.91 -> 0.74" in d.reason and "expected gain 0.17" in d.reason
    assert d.evidence["signals"]["performance"]["drop"] == pytest.approx(0.17)


def test_decay_that_is_not_significant_does_not_fire() -> None:
    d = decide(_state(), _report(current=0.84, p_value=0.2), T0, _cfg())
    assert d.kind is DecisionKind.SKIP and d.triggers == ()
    assert "not significantly (p=0.2" in d.reason


def test_triggered_by_feature_drift_share_and_by_dataset_verdict() -> None:
    by_share = decide(_state(), _report(current=None, share=0.6), T0, _cfg())
    assert by_share.kind is DecisionKind.RETRAIN and by_share.triggers == ("drift",)
    assert "share of drifted features 0.60 >= 0.50" in by_share.reason and "benefit not measured" in by_share.reason
    by_flag = decide(_state(), _report(current=None, share=0.2, dataset_drift=True), T0, _cfg())
    assert by_flag.kind is DecisionKind.RETRAIN and "dataset drift" in by_flag.reason


def test_triggered_by_label_shift() -> None:
    d = decide(_state(), _report(current=None, tv=0.2), T0, _cfg())
    assert d.kind is DecisionKind.RETRAIN and d.triggers == ("label_shift",)
    assert "total variation 0.20 >= 0.10" in d.reason


def test_triggered_by_streaming_detector_without_a_report() -> None:
    state = _state().observe(rows=100, labelled_rows=100, detector_fired=True)
    d = decide(state, None, T0, _cfg())
    assert d.kind is DecisionKind.RETRAIN and d.triggers == ("detector",)
    assert state.after(d, T0).detector_fired is False
    assert decide(_state(), None, T0, _cfg()).reason.startswith("no drift report yet")


def test_missing_sections_skip_with_reason() -> None:
    report = _report()
    report["performance"] = None
    report["label_shift"] = None
    d = decide(_state(), report, T0, _cfg())
    assert d.kind is DecisionKind.SKIP and "report has no performance, label_shift" in d.reason


# -- guards -----------------------------------------------------------------------------------------------------------


def test_cooldown_suppresses_then_lifts() -> None:
    state = _state(last_retrain_at=T0, retrain_times=(T0,))
    d = decide(state, _report(**DECAYED), T0 + 3.9 * H, _cfg())
    assert d.kind is DecisionKind.SKIP and d.suppressed_by is Guard.COOLDOWN
    assert d.reason.startswith("retrain suppressed by cooldown (2.1 h left) while accuracy decayed 0.91 -> 0.74")
    assert d.evidence["guards"]["cooldown_left_h"] == pytest.approx(2.1)
    assert decide(state, _report(**DECAYED), T0 + 6 * H, _cfg()).kind is DecisionKind.RETRAIN


def test_budget_suppresses_until_the_window_rolls_over() -> None:
    times = (T0, T0 + 7 * H, T0 + 14 * H)
    state = _state(last_retrain_at=times[-1], retrain_times=times)
    blocked = decide(state, _report(**DECAYED), T0 + 20 * H, _cfg())
    assert blocked.suppressed_by is Guard.BUDGET
    assert "budget (3 of 3 retrains in the last 24 h; next slot in 4.0 h)" in blocked.reason
    rolled = decide(state, _report(**DECAYED), T0 + 24 * H + timedelta(seconds=1), _cfg())
    assert rolled.kind is DecisionKind.RETRAIN and rolled.evidence["guards"]["retrains_in_period"] == 2


def test_min_rows_suppresses() -> None:
    d = decide(_state(labelled=120), _report(**DECAYED), T0, _cfg())
    assert d.suppressed_by is Guard.MIN_ROWS and "min_rows (120 of 500 new labelled rows)" in d.reason


def test_low_benefit_suppresses() -> None:
    cfg = _cfg(triggers={"performance_drop": 0.01})
    d = decide(_state(), _report(current=0.895, p_value=0.001), T0, cfg)
    assert d.triggers == ("performance",) and d.suppressed_by is Guard.BENEFIT
    assert "expected gain 0.015 < 0.020" in d.reason
    # a drift alarm while labelled accuracy is fine promises no gain either
    drift_only = decide(_state(), _report(share=0.8), T0, _cfg())
    assert drift_only.triggers == ("drift",) and drift_only.suppressed_by is Guard.BENEFIT


def test_require_measured_benefit() -> None:
    cfg = _cfg(guards={"require_measured_benefit": True})
    d = decide(_state(), _report(current=None, share=0.8), T0, cfg)
    assert d.suppressed_by is Guard.BENEFIT and "not measured" in d.reason


def test_all_blocking_guards_are_listed() -> None:
    state = _state(labelled=10, last_retrain_at=T0, retrain_times=(T0,))
    d = decide(state, _report(**DECAYED), T0 + H, _cfg())
    assert d.suppressed_by is Guard.COOLDOWN and "(also min_rows)" in d.reason
    assert d.evidence["guards"]["blocked"] == ["cooldown", "min_rows"]


def test_detector_alarm_waits_for_deferring_guards_but_not_for_benefit() -> None:
    cfg = _cfg()
    state = _state(last_retrain_at=T0, retrain_times=(T0,)).observe(10, 10, detector_fired=True)
    held = decide(state, None, T0 + H, cfg)
    assert held.suppressed_by is Guard.COOLDOWN and state.after(held, T0 + H).detector_fired
    fine = decide(_state().observe(10, 10, detector_fired=True), _report(), T0, cfg)
    assert fine.suppressed_by is Guard.BENEFIT
    assert _state().observe(10, 10, detector_fired=True).after(fine, T0).detector_fired is False


# -- stale alarm ------------------------------------------------------------------------------------------------------


def test_stale_alarm_after_max_unaddressed() -> None:
    cfg = _cfg()
    state = PolicyState(last_retrain_at=T0 - 6 * H, retrain_times=(T0 - 6 * H,))
    decisions: list[Decision] = []
    for hour in range(31):  # labels never arrive in volume: min_rows holds every hourly tick
        now = T0 + hour * H
        d = decide(state.observe(rows=50, labelled_rows=5), _report(**DECAYED), now, cfg)
        state = state.observe(rows=50, labelled_rows=5).after(d, now)
        decisions.append(d)
    assert all(d.suppressed_by is Guard.MIN_ROWS for d in decisions)
    assert [d.stale_alarm is not None for d in decisions] == [False] * 24 + [True] * 7
    last = decisions[-1]
    assert last.stale_alarm is not None and last.stale_alarm.startswith(
        "no retrain for 36.0 h while accuracy decay is 0.17"
    )
    assert "unaddressed for 30.0 h" in last.stale_alarm and "Stale alarm:" in last.reason
    # acting on the trigger clears it
    ready = state.observe(rows=1000, labelled_rows=1000)
    acted = decide(ready, _report(**DECAYED), T0 + 31 * H, cfg)
    assert acted.kind is DecisionKind.RETRAIN and acted.stale_alarm is None
    assert ready.after(acted, T0 + 31 * H).trigger_since is None


# -- continual --------------------------------------------------------------------------------------------------------


def test_continual_update_on_every_window_with_enough_labels() -> None:
    cfg = _cfg("continual", continual={"min_labelled_rows": 200, "steps": 15})
    state = PolicyState.start(T0).observe(rows=400, labelled_rows=250)
    d = decide(state, None, T0 + H, cfg)
    assert d.kind is DecisionKind.UPDATE and d.steps == 15 and "250 new labelled rows >= 200" in d.reason
    state = state.after(d, T0 + H)
    assert state.new_labelled_rows == 0 and state.last_update_at == T0 + H and state.retrain_times == ()
    wait = decide(state.observe(rows=300, labelled_rows=120), None, T0 + 2 * H, cfg)
    assert wait.kind is DecisionKind.SKIP and wait.suppressed_by is Guard.MIN_ROWS and "120 of 200" in wait.reason


# -- label shift: reweight vs retrain ---------------------------------------------------------------------------------


def test_pure_label_shift_reweights_when_enabled() -> None:
    cfg = _cfg(label_shift_fix=True)
    d = decide(_state(), _report(current=0.90, tv=0.2, share=0.6), T0, cfg)
    assert d.kind is DecisionKind.REWEIGHT and d.triggers == ("drift", "label_shift")
    # weights from the estimated / reference prior ratio: 0.4/0.6 and 0.6/0.4
    assert d.class_weights == pytest.approx({"0": 0.4 / 0.6, "1": 0.6 / 0.4})
    assert "reweight outputs" in d.reason and d.evidence["concept_drift_indicated"] is False
    given = decide(_state(), _report(current=0.90, tv=0.2, class_weights={"0": 0.5, "1": 2.0}), T0, cfg)
    assert given.class_weights == {"0": 0.5, "1": 2.0}
    # the same report without the fix enabled: a retrain is not worth it (no measured decay)
    assert decide(_state(), _report(current=0.90, tv=0.2), T0, _cfg()).suppressed_by is Guard.BENEFIT


def test_label_shift_with_decay_and_feature_drift_retrains() -> None:
    cfg = _cfg(label_shift_fix=True)
    d = decide(_state(), _report(tv=0.2, share=0.6, **DECAYED), T0, cfg)
    assert d.kind is DecisionKind.RETRAIN and set(d.triggers) == {"performance", "drift", "label_shift"}
    assert d.evidence["concept_drift_indicated"] is True


# -- the loop a noisy trigger must not cause --------------------------------------------------------------------------


def test_noisy_trigger_for_48_hours_stays_within_budget() -> None:
    cfg = _cfg()  # cooldown 6 h, 3 retrains per rolling 24 h
    state, retrains, suppressed = PolicyState.start(T0), [], []
    for hour in range(48):
        now = T0 + hour * H
        state = state.observe(rows=2000, labelled_rows=1000, detector_fired=True)
        d = decide(state, _report(share=1.0, dataset_drift=True, **DECAYED), now, cfg)
        state = state.after(d, now)
        (retrains if d.kind is DecisionKind.RETRAIN else suppressed).append((hour, d.suppressed_by))
    hours = [h for h, _ in retrains]
    # by hand: 0, 6, 12 (cooldown), 18 blocked by budget, 24 once hour 0 left the window, 30, 36, 42 blocked
    assert hours == [0, 6, 12, 24, 30, 36]
    assert all(sum(1 for t in hours if s <= t < s + 24) <= 3 for s in range(48))
    assert {g for _, g in suppressed} == {Guard.COOLDOWN, Guard.BUDGET}


# -- inputs -----------------------------------------------------------------------------------------------------------


def test_malformed_reports_and_clocks_raise_data_errors() -> None:
    bad = _report()
    bad["summary"]["share_drifted"] = "lots"
    with pytest.raises(DataError, match=r"summary\.share_drifted"):
        decide(_state(), bad, T0, _cfg())
    with pytest.raises(DataError, match=r"schema_version '2\.0'"):
        decide(_state(), {**_report(), "schema_version": "2.0"}, T0, _cfg())
    with pytest.raises(DataError, match="naive and aware"):
        decide(_state(), None, datetime(2024, 3, 1), _cfg())
    with pytest.raises(DataError, match="labelled <= rows"):
        PolicyState().observe(rows=5, labelled_rows=6)


def test_lower_is_better_metric() -> None:
    report = _report()
    report["performance"] = {"metric": "rmse", "baseline": 1.0, "current": 1.3, "p_value": 0.001}
    d = decide(_state(), report, T0, _cfg(triggers={"performance_drop": 0.1}))
    assert d.kind is DecisionKind.RETRAIN and "rmse decayed 1.00 -> 1.30" in d.reason


def test_state_is_immutable() -> None:
    state = _state()
    d = decide(state, _report(**DECAYED), T0, _cfg())
    after = state.after(d, T0)
    assert state.retrain_times == () and after.retrain_times == (T0,)
    with pytest.raises(AttributeError):
        state.rows_seen = 3  # type: ignore[misc]


# -- invariants over random inputs ------------------------------------------------------------------------------------


def _random_report(rng: np.random.Generator) -> dict[str, Any] | None:
    if rng.random() < 0.1:
        return None
    report = _report(
        current=None if rng.random() < 0.3 else float(rng.uniform(0.4, 1.0)),
        baseline=float(rng.uniform(0.6, 1.0)),
        p_value=None if rng.random() < 0.2 else float(rng.random() ** 3),
        share=float(rng.random()),
        dataset_drift=bool(rng.random() < 0.3),
        tv=None if rng.random() < 0.2 else float(rng.uniform(0, 0.4)),
    )
    for key in ("summary", "label_shift", "window"):
        if rng.random() < 0.15:
            report[key] = None
    return report


def test_random_reports_always_give_a_reason_and_json_evidence() -> None:
    rng = np.random.default_rng(2024)
    kinds: set[DecisionKind] = set()
    state = PolicyState.start(T0)
    for tick in range(600):
        strategy = list(Strategy)[tick % 4]
        cfg = _cfg(strategy.value, label_shift_fix=bool(tick % 3 == 0))
        now = T0 + tick * timedelta(minutes=int(rng.integers(10, 200)))
        state = state.observe(rows=int(rng.integers(0, 3000)), labelled_rows=0, detector_fired=rng.random() < 0.1)
        state = state.observe(rows=400, labelled_rows=int(rng.integers(0, 400)))
        d = decide(state, _random_report(rng), now, cfg)
        kinds.add(d.kind)
        assert d.reason.strip() and d.reason.endswith(".")
        json.dumps(d.evidence)
        json.loads(json.dumps(d.to_dict()))
        assert d.suppressed_by is None or d.kind is DecisionKind.SKIP
        assert (d.kind is DecisionKind.UPDATE) == (d.steps is not None)
        state = state.after(d, now)
    assert kinds == set(DecisionKind)


# -- config -----------------------------------------------------------------------------------------------------------


def test_example_config_loads() -> None:
    cfg = load_yaml_model(REPO / "configs" / "policy.yaml", PolicyConfig)
    assert cfg.strategy is Strategy.TRIGGERED and cfg.guards.cooldown == timedelta(hours=6)
    assert cfg == PolicyConfig()  # the example documents the defaults


def test_config_errors_name_the_field(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("strategy: sometimes\n")
    with pytest.raises(ConfigError, match="'never', 'periodic', 'triggered' or 'continual'"):
        load_yaml_model(path, PolicyConfig)
    path.write_text("strategy: triggered\nguards:\n  cooldwn: 6h\n")
    with pytest.raises(ConfigError) as info:
        load_yaml_model(path, PolicyConfig)
    assert info.value.field == "guards.cooldwn" and "cooldown" in str(info.value)
    path.write_text("strategy: periodic\nperiodic:\n  every_rows: null\n")
    with pytest.raises(ConfigError, match=r"needs periodic\.every_rows or periodic\.every"):
        load_yaml_model(path, PolicyConfig)


def test_durations() -> None:
    assert parse_duration("1h30m") == timedelta(minutes=90)
    assert PolicyConfig.model_validate({"guards": {"cooldown": "PT2H"}}).guards.cooldown == timedelta(hours=2)
    assert PolicyConfig.model_validate({"guards": {"cooldown": 60}}).guards.cooldown == timedelta(minutes=1)
    with pytest.raises(ValueError):
        PolicyConfig.model_validate({"guards": {"cooldown": "soon"}})


def test_a_champion_retrained_on_few_rows_is_refreshed_once_enough_new_labels_arrive() -> None:
    """The measured demo failure: a retrain on 272 rows, accuracy holding at its level, 4,000 more labelled rows."""
    report = _report(current=0.66, baseline=0.66, p_value=0.5)
    report["performance"]["baseline_trained_rows"] = 272
    waiting = decide(_state(labelled=500), report, T0 + 10 * H, _cfg())
    assert waiting.kind is DecisionKind.SKIP and "refresh of a 272-row retrain waits" in waiting.reason
    due = decide(_state(labelled=4000), report, T0 + 10 * H, _cfg())
    assert due.kind is DecisionKind.RETRAIN and due.triggers == ("refresh",)
    assert "learnt from only 272 rows" in due.reason
    big = _report(current=0.66, baseline=0.66, p_value=0.5)
    big["performance"]["baseline_trained_rows"] = 5000  # a retrain on plenty of rows is not refreshed
    assert decide(_state(labelled=40_000), big, T0 + 10 * H, _cfg()).kind is DecisionKind.SKIP


def test_a_due_refresh_does_not_block_the_cheap_label_shift_fix() -> None:
    report = _report(current=0.66, baseline=0.66, p_value=0.5, tv=0.2, class_weights={"0": 0.5, "1": 1.5})
    report["performance"]["baseline_trained_rows"] = 272
    decision = decide(_state(labelled=4000), report, T0 + 10 * H, _cfg(label_shift_fix=True))
    assert decision.kind is DecisionKind.REWEIGHT and set(decision.triggers) == {"refresh", "label_shift"}
