"""The OpenAPI document says exactly what the router accepts: a body is valid by the schema iff the parser takes it."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from pydantic import ValidationError

from driftline.datasets.synthetic import SYNTHETIC_SCHEMA
from driftline.rollout.spec import RolloutSpec
from driftline.serve_apps.feedback import parse_feedback
from driftline.serve_apps.openapi import serving_openapi
from driftline.serve_apps.payload import PayloadError, parse_records

MAX_ROWS = 3
DOC = serving_openapi({"openapi": "3.1.0", "info": {}, "paths": {}}, SYNTHETIC_SCHEMA, max_rows=MAX_ROWS)
ROW = {"x0": 0.1, "x1": -2, "x2": 1.0, "x3": 0.0, "x4": 5e30, "region": "a"}
NAMES = list(SYNTHETIC_SCHEMA.feature_names)


def _valid(component: str, body: Any) -> bool:
    validator = Draft202012Validator({"$ref": f"#/components/schemas/{component}", "components": DOC["components"]})
    return validator.is_valid(body)


def _accepts(parse: Callable[[Any], object], body: Any, refusal: type[Exception]) -> bool:
    """Whether the router's own parser takes ``body`` (``refusal`` is how it says no)."""
    try:
        parse(body)
    except refusal:
        return False
    return True


PREDICT_BODIES = [
    {"instances": [ROW]},
    {"dataframe_records": [ROW, ROW]},
    {"dataframe_split": {"columns": NAMES, "data": [[ROW[n] for n in NAMES]]}},
    {"instances": [{**ROW, "extra": "ignored"}]},
    {"instances": [ROW], "trace": "other keys are ignored"},
    {"instances": []},
    {"instances": [ROW] * (MAX_ROWS + 1)},
    {"instances": [ROW], "dataframe_records": [ROW]},
    {"instances": [{k: v for k, v in ROW.items() if k != "x0"}]},
    {"instances": [{**ROW, "x0": "1.0"}]},
    {"instances": [{**ROW, "x0": True}]},
    {"instances": [{**ROW, "x0": 4e38}]},
    {"instances": [{**ROW, "x0": 10**400}]},
    {"instances": [{**ROW, "region": 3}]},
    {"instances": ROW},
    {"instances": [[1, 2]]},
    {"dataframe_split": {"columns": NAMES, "data": [[1.0]]}},
    {"dataframe_split": {"columns": [["x0"]], "data": []}},
    {"dataframe_split": {"columns": NAMES, "data": [[ROW[n] for n in NAMES][::-1]]}},
    {"dataframe_split": "x"},
    {},
    [ROW],
    "text",
]


@pytest.mark.parametrize("body", PREDICT_BODIES, ids=range(len(PREDICT_BODIES)))
def test_a_predict_body_is_valid_by_the_schema_iff_the_router_accepts_it(body: Any) -> None:
    accepted = _accepts(lambda b: parse_records(b, SYNTHETIC_SCHEMA, MAX_ROWS), body, PayloadError)
    assert _valid("PredictRequest", body) == accepted


FEEDBACK_BODIES = [
    {"request_id": "r", "label": 1},
    {"request_id": "r", "label": 0, "row": 2, "token": "t"},
    {"items": [{"request_id": "r", "label": 1}, {"request_id": "s", "label": 0, "row": 1}]},
    {"request_id": "", "label": 1},
    {"request_id": "r", "label": 2},
    {"request_id": "r", "label": True},
    {"request_id": "r", "label": "1"},
    {"request_id": "r", "label": 1, "row": -1},
    {"request_id": "r", "label": 1, "token": 5},
    {"request_id": "r", "label": 1, "token": None},
    {"label": 1},
    {"items": []},
    {"items": [{"request_id": "r"}]},
    {"items": "x"},
    {"id": "o-1", "label": 1},  # this model has no business key: label by request_id
    [],
]


@pytest.mark.parametrize("body", FEEDBACK_BODIES, ids=range(len(FEEDBACK_BODIES)))
def test_a_feedback_body_is_valid_by_the_schema_iff_the_router_accepts_it(body: Any) -> None:
    accepted = _accepts(lambda b: parse_feedback(b, SYNTHETIC_SCHEMA.classes), body, PayloadError)
    assert _valid("FeedbackRequest", body) == accepted


KEYED = dataclasses.replace(SYNTHETIC_SCHEMA, id_column="order_id")  # a model with a business key
KEYED_DOC = serving_openapi({"openapi": "3.1.0", "info": {}, "paths": {}}, KEYED, max_rows=MAX_ROWS)
KEYED_BODIES = [
    ("PredictRequest", {"instances": [{**ROW, "order_id": "o-1"}]}),
    ("PredictRequest", {"instances": [{**ROW, "order_id": 17}]}),
    ("PredictRequest", {"dataframe_split": {"columns": [*NAMES, "order_id"], "data": [[*ROW.values(), "o-1"]]}}),
    ("PredictRequest", {"instances": [ROW]}),  # every row must carry its id
    ("PredictRequest", {"instances": [{**ROW, "order_id": ""}]}),
    ("PredictRequest", {"instances": [{**ROW, "order_id": "o" * 129}]}),
    ("PredictRequest", {"instances": [{**ROW, "order_id": True}]}),
    ("PredictRequest", {"instances": [{**ROW, "order_id": 1.5}]}),
    ("FeedbackRequest", {"id": "o-1", "label": 1}),
    ("FeedbackRequest", {"id": 17, "label": 0, "time": "2026-12-07T10:00:00Z"}),
    ("FeedbackRequest", {"id": "o-1", "label": 1, "time": 1796600000}),
    ("FeedbackRequest", {"items": [{"id": "o-1", "label": 1}, {"request_id": "r", "label": 0}]}),
    ("FeedbackRequest", {"request_id": "r", "label": 1}),
    ("FeedbackRequest", {"id": "", "label": 1}),
    ("FeedbackRequest", {"id": "o-1", "label": 1, "row": 0}),
    ("FeedbackRequest", {"id": "o-1", "label": 7}),
]


@pytest.mark.parametrize(("component", "body"), KEYED_BODIES, ids=range(len(KEYED_BODIES)))
def test_with_a_business_key_a_body_is_valid_by_the_schema_iff_the_router_accepts_it(component: str, body: Any) -> None:
    def parse(b: Any) -> object:
        if component == "PredictRequest":
            return parse_records(b, KEYED, MAX_ROWS)
        return parse_feedback(b, KEYED.classes, by_id=True)

    validator = Draft202012Validator(
        {"$ref": f"#/components/schemas/{component}", "components": KEYED_DOC["components"]}
    )
    assert validator.is_valid(body) == _accepts(parse, body, PayloadError)


ROLLOUT_BODIES = [
    {"mode": "canary", "candidate_version": "4", "canary": {"steps": [0.1, 1.0]}},
    {"mode": "shadow", "candidate_version": "4"},
    {"mode": "ab", "candidate_version": "4", "ab": {}},
    {"mode": "canary", "candidate_version": ""},
    {"mode": "blue-green", "candidate_version": "4"},
    {"mode": "canary", "candidate_version": "4", "unknown": 1},
    {"mode": "canary", "candidate_version": "4", "max_duration_seconds": 0},
]


@pytest.mark.parametrize("body", ROLLOUT_BODIES, ids=range(len(ROLLOUT_BODIES)))
def test_a_rollout_spec_is_valid_by_the_schema_iff_the_router_accepts_it(body: Any) -> None:
    assert _valid("RolloutSpec", body) == _accepts(RolloutSpec.model_validate, body, ValidationError)


def test_every_route_documents_its_body_its_statuses_and_the_admin_token() -> None:
    paths = DOC["paths"]
    assert set(paths["/predict"]["post"]["responses"]) == {"200", "400", "413", "422", "503", "504"}
    assert set(paths["/feedback"]["post"]["responses"]) >= {"200", "403", "404", "409", "422", "503"}
    for path in ("/rollout", "/rollout/promote", "/rollout/abort"):
        assert paths[path]["post"]["security"] == [{"adminToken": []}]
        assert {"401", "403", "409"} <= set(paths[path]["post"]["responses"])
    assert "requestBody" in paths["/feedback"]["post"] and "requestBody" in paths["/rollout"]["post"]
    row = DOC["components"]["schemas"]["Row"]["properties"]
    assert row["region"]["type"] == ["string", "integer", "boolean", "null"]  # a category; null is a gap
    assert row["x0"]["type"] == ["number", "null"]
