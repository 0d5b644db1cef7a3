from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from driftline.core.config import ELEC2_PATH_ENV, DataConfig
from driftline.core.errors import DataError
from driftline.datasets import SCENARIOS, generate_stream, load_elec2


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_streams_are_seeded_and_time_ordered(scenario: str) -> None:
    a, truth = generate_stream(scenario, 2000, seed=3)
    b, _ = generate_stream(scenario, 2000, seed=3)
    assert a.equals(b)
    assert a["timestamp"].is_monotonic_increasing and len(a) == 2000
    assert truth.scenario == scenario and all(0 < cp < 2000 for cp in truth.change_points)


def test_covariate_shift_moves_x_not_the_rule() -> None:
    frame, truth = generate_stream("covariate_shift", 40_000, seed=1)
    cp = truth.change_points[0]
    before, after = frame.iloc[:cp], frame.iloc[cp:]
    assert after["x0"].mean() - before["x0"].mean() == pytest.approx(1.5, abs=0.05)
    assert after["x2"].std() / before["x2"].std() == pytest.approx(2.0, abs=0.05)
    # P(Y|X) fixed: within a narrow x-cell the label rate is the same before and after.
    cell = lambda f: f[(f.x0.between(0.4, 0.8)) & (f.region == "a") & (f.x1.abs() < 0.5)]  # noqa: E731
    assert cell(before)["y"].mean() == pytest.approx(cell(after)["y"].mean(), abs=0.06)


def test_label_shift_moves_prior_not_class_conditionals() -> None:
    frame, truth = generate_stream("label_shift", 40_000, seed=2)
    cp = truth.change_points[0]
    before, after = frame.iloc[:cp], frame.iloc[cp:]
    assert before["y"].mean() == pytest.approx(0.15, abs=0.01)
    assert after["y"].mean() == pytest.approx(0.60, abs=0.01)
    for label in (0, 1):
        b, a = before[before.y == label], after[after.y == label]
        assert b["x0"].mean() == pytest.approx(a["x0"].mean(), abs=0.06)
        assert (b["region"] == "b").mean() == pytest.approx((a["region"] == "b").mean(), abs=0.03)


def test_concept_drift_changes_the_rule_not_x() -> None:
    frame, truth = generate_stream("concept_drift", 40_000, seed=3)
    cp = truth.change_points[0]
    before, after = frame.iloc[:cp], frame.iloc[cp:]
    assert before["x0"].mean() == pytest.approx(after["x0"].mean(), abs=0.03)
    rule = lambda f: ((2 * f.x0 - 1.5 * f.x1 + 0.8 * f.x2) > 0).astype(int)  # noqa: E731
    assert (rule(before) == before.y).mean() > 0.75
    assert (rule(after) == after.y).mean() < 0.65


def test_unknown_scenario_lists_valid_ones() -> None:
    with pytest.raises(DataError, match="concept_drift"):
        generate_stream("fog", 100)


def test_elec2_loads_in_time_order_when_present() -> None:
    path = DataConfig().resolved_elec2_path()
    if not path.is_file():
        pytest.skip(f"Elec2 not at {path}; it ships in ../shared/data/elec2 beside the repo")
    frame = load_elec2(path)
    assert len(frame) == 45_312 and frame["class"].isin([0, 1]).all()
    assert np.isclose(1 - frame["class"].mean(), 0.575, atol=0.001)


def test_elec2_missing_file_says_where_to_get_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ELEC2_PATH_ENV, str(tmp_path / "missing.csv"))
    with pytest.raises(DataError) as info:
        load_elec2()
    assert "scikit-multiflow/streaming-datasets" in str(info.value) and ELEC2_PATH_ENV in str(info.value)
