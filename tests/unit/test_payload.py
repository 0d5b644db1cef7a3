from __future__ import annotations

import pytest

from driftline.datasets import SYNTHETIC_SCHEMA
from driftline.serve_apps.payload import PayloadError, parse_payload

ROW = {"x0": 0.1, "x1": 0.0, "x2": 1, "x3": 2.0, "x4": -1.0, "region": "a"}


def _parse(body: object, max_rows: int = 10):
    return parse_payload(body, SYNTHETIC_SCHEMA, max_rows)


def test_three_body_shapes_give_the_same_frame() -> None:
    split = {"columns": list(ROW), "data": [list(ROW.values())]}
    frames = [_parse({"instances": [ROW]}), _parse({"dataframe_records": [ROW]}), _parse({"dataframe_split": split})]
    assert all(f.equals(frames[0]) for f in frames)
    assert list(frames[0].columns) == list(SYNTHETIC_SCHEMA.feature_names)


def test_null_is_a_gap_and_categories_arrive_as_text() -> None:
    frame = _parse({"instances": [{**ROW, "x0": None, "region": None}, {**ROW, "region": 7}, {**ROW, "region": True}]})
    assert frame["x0"].isna().tolist() == [True, False, False]
    assert frame["region"].isna().tolist() == [True, False, False] and frame["region"].tolist()[1:] == ["7", "True"]


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ({"instances": [{k: v for k, v in ROW.items() if k != "x2"}]}, 422, "missing_feature", "x2"),
        ({"instances": [{**ROW, "x0": "high"}]}, 422, "wrong_type", "x0"),
        ({"instances": [{**ROW, "x0": True}]}, 422, "wrong_type", "x0"),
        ({"instances": [{**ROW, "region": 3.5}]}, 422, "wrong_type", "region"),
        ({"instances": [{**ROW, "region": ["a"]}]}, 422, "wrong_type", "region"),
        ({"instances": [{**ROW, "x4": float("nan")}]}, 422, "not_finite", "x4"),
        ({"instances": [{**ROW, "x4": float("inf")}]}, 422, "not_finite", "x4"),
        ({"instances": []}, 422, "empty_batch", "instances"),
        ({"instances": [ROW] * 11}, 413, "batch_too_large", None),
        ({"rows": [ROW]}, 400, "bad_body", "body"),
        ([ROW], 400, "bad_body", None),
        ({"instances": [ROW], "dataframe_records": [ROW]}, 400, "bad_body", "body"),
        ({"dataframe_split": {"columns": ["x0"], "data": [[1, 2]]}}, 422, "bad_row", "data"),
        ({"instances": [ROW, 5]}, 422, "bad_row", None),
        ({"instances": [{**ROW, "x0": 10**400}]}, 422, "out_of_range", "x0"),  # float() cannot hold it
        ({"instances": [{**ROW, "x1": 3.5e38}]}, 422, "out_of_range", "x1"),  # overflows the model's float32
        ({"instances": [{**ROW, "x1": -1e300}]}, 422, "out_of_range", "x1"),
        ({"dataframe_split": {"columns": [["x0"]], "data": [[1]]}}, 400, "bad_body", "dataframe_split"),
    ],
)
def test_bad_payloads_name_the_problem(body: object, status: int, code: str, field: str | None) -> None:
    with pytest.raises(PayloadError) as info:
        _parse(body)
    err = info.value
    assert (err.status, err.code, err.field) == (status, code, field)
    assert err.to_json()["error"]["message"]
