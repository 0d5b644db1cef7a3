"""BOCPD known answers: mean and variance shifts found quickly, heavy-tailed stationary streams stay quiet.

The contract suite in test_detectors.py covers the shape (it discovers BOCPD like every other detector). Figures
measured on these seeds are quoted beside each bound.
"""

from __future__ import annotations

import numpy as np
import pytest

from driftline.core.errors import ConfigError
from driftline.monitors.detectors import BOCPD

CHANGE_AT = 1000


def _detections(det: BOCPD, stream: np.ndarray) -> list[int]:
    return [i for i, x in enumerate(stream.tolist()) if det.update(x).drift_detected]


def _first_delay_and_false(stream: np.ndarray) -> tuple[int | None, int]:
    found = _detections(BOCPD(), stream)
    after = [i - CHANGE_AT for i in found if i >= CHANGE_AT]
    return (after[0] if after else None), sum(i < CHANGE_AT for i in found)


@pytest.mark.parametrize(("shift", "scale", "max_delay"), [(1.0, 1.0, 60), (0.0, 3.0, 80)])
def test_mean_and_variance_shifts_are_found_quickly(shift: float, scale: float, max_delay: int) -> None:
    # N(0,1) -> N(1,1) measured delays max 42 (mean 21); N(0,1) -> N(0,9): max 47 (mean 24); no false alarm.
    delays, false = [], 0
    for seed in range(8):
        rng = np.random.default_rng(seed)
        stream = np.concatenate([rng.normal(0, 1, CHANGE_AT), rng.normal(shift, scale, 1000)])
        delay, n_false = _first_delay_and_false(stream)
        assert delay is not None, f"missed the change on seed {seed}"
        delays.append(delay)
        false += n_false
    assert max(delays) <= max_delay, delays
    assert false == 0


def test_scale_free_same_detections_in_any_unit() -> None:
    rng = np.random.default_rng(3)
    stream = np.concatenate([rng.normal(0, 1, 500), rng.normal(0.8, 1, 500), rng.normal(0.8, 2.5, 500)])
    base = _detections(BOCPD(), stream)
    assert len(base) >= 2
    assert _detections(BOCPD(), 1e4 * stream - 3e5) == base
    assert _detections(BOCPD(), 1e-3 * stream + 7.0) == base


def test_heavy_tailed_stationary_stream_false_alarm_rate() -> None:
    # Student-t with 3 dof (infinite kurtosis), 3 x 10k values: measured 0, 1, 0 alarms (seeds 100-104: 0, 1, 0, 1,
    # 1, i.e. 0.6 per 10k). Stated rate: at most 1 alarm per 10k values.
    alarms = [len(_detections(BOCPD(), np.random.default_rng(100 + s).standard_t(3, 10_000))) for s in range(3)]
    assert max(alarms) <= 1 and sum(alarms) <= 2, alarms


def test_a_lone_outlier_is_not_a_change() -> None:
    for seed in range(5):
        stream = np.random.default_rng(seed).normal(0, 1, 600)
        stream[300] = 50.0
        assert _detections(BOCPD(), stream) == [], seed


def test_warm_up_silences_the_start_and_restarts_after_a_drift() -> None:
    det = BOCPD(warmup=40)
    stream = np.concatenate([np.zeros(10) + 0.01 * np.arange(10), 100 + np.arange(100.0) % 3])
    found = _detections(det, stream)
    assert found and found[0] >= 39
    assert det.change_probability <= 1.0 and det.run_length >= 0


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"expected_run_length": 1}, "expected_run_length"),
        ({"threshold": 1.0}, "threshold"),
        ({"min_evidence": 0}, "min_evidence"),
        ({"warmup": 2}, "warmup"),
        ({"max_run_length": 5}, "max_run_length"),
        ({"clip": 0}, "clip"),
    ],
)
def test_bad_parameters_name_the_field(kwargs: dict[str, float], field: str) -> None:
    with pytest.raises(ConfigError) as info:
        BOCPD(**kwargs)  # type: ignore[arg-type]
    assert info.value.field == field
