"""The API's OpenAPI document, made strict from the model's table schema so that clients and fuzzers see real cases.

FastAPI's generated document knows the paths but not the bodies (the router reads raw JSON to check its size before
parsing). :func:`serving_openapi` adds what the router really accepts and answers: ``/predict`` takes exactly one of
the three body shapes, each row with every feature of the served model and its type (numbers within the float32
range, categories as strings); ``/feedback`` the single or batch form with the model's classes; ``POST /rollout`` a
RolloutSpec; and every status each route can answer, with its body.

>>> from driftline.datasets.synthetic import SYNTHETIC_SCHEMA
>>> doc = serving_openapi({"openapi": "3.1.0", "paths": {}}, SYNTHETIC_SCHEMA, max_rows=50)
>>> doc["components"]["schemas"]["Row"]["required"]
['x0', 'x1', 'x2', 'x3', 'x4', 'region']
>>> sorted(doc["paths"]["/predict"]["post"]["responses"])
['200', '400', '413', '422', '503', '504']
"""

from __future__ import annotations

import copy
from typing import Any

from driftline.core.records import Variant
from driftline.datasets.schema import DatasetSchema, FeatureKind
from driftline.rollout.spec import RolloutSpec
from driftline.serve_apps.feedback import FeedbackStatus
from driftline.serve_apps.payload import MAX_ID_CHARS, MAX_NUMERIC

__all__ = ["serving_openapi"]

_REF = "#/components/schemas/{model}"
_BODY_KEYS = ("instances", "dataframe_records", "dataframe_split")


def _ref(name: str) -> dict[str, str]:
    return {"$ref": _REF.format(model=name)}


def _json_content(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _response(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": _json_content(schema)}


def _errors(**statuses: str) -> dict[str, Any]:
    """Responses with the error body, keyed by status (``_413="..."``)."""
    return {status.lstrip("_"): _response(text, _ref("Error")) for status, text in statuses.items()}


def _feature(kind: FeatureKind, categories: tuple[str, ...]) -> dict[str, Any]:
    """A feature's JSON schema; null is a missing value (imputed, or the "other" category)."""
    if kind is FeatureKind.NUMERIC:
        return {"type": ["number", "null"], "minimum": -MAX_NUMERIC, "maximum": MAX_NUMERIC}
    text: dict[str, Any] = {"type": ["string", "integer", "boolean", "null"]}
    return {**text, "examples": list(categories[:5])} if categories else text


def _components(schema: DatasetSchema, max_rows: int, max_feedback_items: int) -> dict[str, Any]:
    key = schema.id_column  # the business key: one more value per row, never a feature
    business_key = {"type": ["string", "integer"], "minLength": 1, "maxLength": MAX_ID_CHARS}
    names = [*schema.feature_names, *([key] if key else [])]
    cells = [_feature(f.kind, f.categories) for f in schema.features] + ([business_key] if key else [])
    others = {own: {key: False for key in _BODY_KEYS if key != own} for own in _BODY_KEYS}  # exactly one shape
    rows = {"type": "array", "items": _ref("Row"), "minItems": 1, "maxItems": max_rows}
    error = {
        "type": "object",
        "required": ["code", "message"],
        "properties": {
            "code": {"type": "string"},
            "message": {"type": "string"},
            "field": {"type": ["string", "null"]},
            "row": {"type": ["integer", "null"]},
        },
    }
    outcome_properties = {
        "id": {"type": "string", "description": "the business key the label named"},
        "request_id": {"type": "string"},
        "row": {"type": "integer"},
        "status": {"enum": [status.value for status in FeedbackStatus]},
        "scored": {"type": "array", "items": {"type": "object"}},
        "message": {"type": "string", "description": "why the label was not taken (expired: the window)"},
    }
    regression = schema.is_regression
    label = (
        {"type": "number", "description": "the true value of the target"}
        if regression
        else {"enum": list(schema.classes), "description": "the true class"}
    )
    prediction = {"type": "number"} if regression else {"enum": list(schema.classes)}
    required = ["request_id", "feedback_tokens", "predictions", "model_version", "variant"]
    answer: dict[str, Any] = {
        "request_id": {"type": "string", "description": "issued by the server: the key for /feedback"},
        "client_request_id": {"type": ["string", "null"], "description": "your X-Request-Id, if sent"},
        "feedback_tokens": {"type": "array", "items": {"type": "string"}},
        "predictions": {"type": "array", "items": prediction},
        "model_version": {"type": "string"},
        "variant": {"enum": [variant.value for variant in Variant]},
    }
    if key:
        answer["ids"] = {"type": "array", "items": {"type": "string"}, "description": f"each row's {key}"}
        required.append("ids")
    if not regression:  # a classifier also answers class probabilities
        required.insert(3, "probabilities")
        answer["probabilities"] = {"type": "array", "items": {"type": "array", "items": {"type": "number"}}}
    by_request: dict[str, Any] = {
        "type": "object",
        "required": ["request_id", "label"],
        "properties": {
            "request_id": {"type": "string", "minLength": 1, "description": "request_id of the /predict answer"},
            "label": label,
            "row": {"type": "integer", "minimum": 0, "default": 0, "description": "row of that request"},
            "token": {"type": ["string", "null"], "description": "feedback_tokens[row] of the /predict answer"},
        },
    }
    by_key: dict[str, Any] = {
        "type": "object",
        "description": f"By business key ({key}), with the labeller or admin token: the latest prediction of that "
        "key at or before 'time' (ISO 8601 or Unix seconds; default: now).",
        "required": ["id", "label"],
        "properties": {"id": business_key, "label": label, "time": {"type": ["string", "number"]}},
        "additionalProperties": False,
    }
    feedback_item: dict[str, Any] = {"oneOf": [by_request, by_key]} if key else by_request
    single = {**by_request, "properties": {**by_request["properties"], "items": False}}  # not the batch form
    return {
        "Row": {
            "type": "object",
            "description": "One row: every feature of the served model"
            + (f" and its business key, {key}" if key else "")
            + " (other keys are ignored).",
            "required": names,
            "properties": dict(zip(names, cells, strict=True)),
        },
        "Instances": {
            "type": "object",
            "required": ["instances"],
            "properties": {"instances": rows, **others["instances"]},
        },
        "DataframeRecords": {
            "type": "object",
            "required": ["dataframe_records"],
            "properties": {"dataframe_records": rows, **others["dataframe_records"]},
        },
        "DataframeSplit": {
            "type": "object",
            "required": ["dataframe_split"],
            "properties": {
                "dataframe_split": {
                    "type": "object",
                    "required": ["columns", "data"],
                    "properties": {
                        "columns": {"const": names, "description": "the feature names (and id), in this order"},
                        "data": {
                            "type": "array",
                            "minItems": 1,
                            "maxItems": max_rows,
                            "items": {
                                "type": "array",
                                "prefixItems": cells,
                                "minItems": len(names),
                                "maxItems": len(names),
                            },
                        },
                    },
                },
                **others["dataframe_split"],
            },
        },
        "PredictRequest": {"oneOf": [_ref("Instances"), _ref("DataframeRecords"), _ref("DataframeSplit")]},
        "PredictResponse": {"type": "object", "required": required, "properties": answer},
        "FeedbackItem": {"oneOf": [single, by_key]} if key else single,
        "FeedbackBatch": {
            "type": "object",
            "required": ["items"],
            "properties": {
                "items": {"type": "array", "minItems": 1, "maxItems": max_feedback_items, "items": feedback_item}
            },
        },
        "FeedbackRequest": {"oneOf": [_ref("FeedbackItem"), _ref("FeedbackBatch")]},
        "FeedbackOutcome": {
            "type": "object",
            "required": ["status"],
            "properties": outcome_properties,
        },
        "FeedbackBatchResult": {
            "type": "object",
            "required": ["results", "counts"],
            "properties": {
                "results": {"type": "array", "items": _ref("FeedbackOutcome")},
                "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
            },
        },
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {"error": error, "request_id": {"type": "string"}},
        },
        "Health": {
            "type": "object",
            "required": ["status", "champion_version", "mode"],
            "properties": {
                "status": {"enum": ["ok", "degraded"]},
                "champion_version": {"type": "string"},
                "mode": {"type": "string"},
                "candidate_loaded": {"type": ["string", "null"]},
                "champion_loaded": {"type": "boolean"},
                "placement": {"enum": ["inline", "remote"]},
                "load_error": {"type": ["string", "null"]},
                "models": {"type": "object", "description": "Each model served: the fields above, for that model."},
                "logs": {"type": "object"},
                "state": {"type": "string"},
            },
        },
        "AliasHistory": {
            "type": "object",
            "required": ["alias", "at", "period", "periods"],
            "properties": {
                "alias": {"type": "string"},
                "at": {"type": ["number", "null"]},
                "period": {"oneOf": [{"type": "null"}, _ref("AliasPeriod")]},
                "periods": {"type": "array", "items": _ref("AliasPeriod")},
            },
        },
        "AliasPeriod": {
            "type": "object",
            "required": ["alias", "version", "since", "until", "reason"],
            "properties": {
                "alias": {"type": "string"},
                "version": {"type": "string"},
                "since": {"type": "number", "description": "Unix seconds"},
                "until": {"type": ["number", "null"], "description": "null: still holds it"},
                "reason": {"type": "string"},
                "previous": {"type": ["string", "null"]},
            },
        },
        "RolloutStatus": {
            "type": "object",
            "required": ["rollout", "serving"],
            "properties": {"rollout": {"type": ["object", "null"]}, "serving": {"type": "object"}},
        },
    }


def _rollout_spec_schema() -> tuple[dict[str, Any], dict[str, Any]]:
    """RolloutSpec's JSON schema and the definitions it refers to, as OpenAPI components."""
    spec = RolloutSpec.model_json_schema(ref_template=_REF)
    definitions = spec.pop("$defs", {})
    return spec, definitions


def _operations(predict_headers: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    admin: dict[str, Any] = {"security": [{"adminToken": []}]}
    admin_refusals = _errors(
        _401="no or wrong 'Authorization: Bearer <admin token>'",
        _403="the admin API is disabled (no token set), or the token is the labeller's",
    )
    admin_outcomes = {
        "200": _response("the rollout status after the operation", {"type": "object"}),
        **admin_refusals,
        **_errors(_409="the rollout cannot do that now", _503="the state database is unavailable; retry"),
    }
    return {
        ("/predict", "post"): {
            "requestBody": {"required": True, "content": _json_content(_ref("PredictRequest"))},
            "responses": {
                "200": {**_response("predictions", _ref("PredictResponse")), "headers": predict_headers},
                **_errors(
                    _400="not JSON, nested too deep, or not exactly one of the three body shapes",
                    _413="the body or the batch is too large",
                    _422="a row is missing a feature, has a wrong type, a non-finite or out-of-range number",
                    _503="the champion could not answer",
                    _504="the champion did not answer in time",
                ),
            },
        },
        ("/feedback", "post"): {
            "requestBody": {"required": True, "content": _json_content(_ref("FeedbackRequest"))},
            "security": [{}, {"adminToken": []}],
            "responses": {
                "200": _response(
                    "accepted or duplicate (single form), or one outcome per item (batch form)",
                    {"anyOf": [_ref("FeedbackOutcome"), _ref("FeedbackBatchResult")]},
                ),
                "403": _response("bad_token: no valid feedback token and no admin bearer", _ref("FeedbackOutcome")),
                "404": _response(
                    "unknown_request_id (or unknown_id): no such prediction was logged (of that id, before the label)",
                    _ref("FeedbackOutcome"),
                ),
                "410": _response(
                    "expired: the prediction is older than the label window (serve.feedback_window_hours)",
                    _ref("FeedbackOutcome"),
                ),
                "409": _response("conflict: this row already has another label", _ref("FeedbackOutcome")),
                "503": _response("unavailable: the label could not be made durable; retry", _ref("FeedbackOutcome")),
                **_errors(
                    _400="not JSON or not an object",
                    _413="the body or the batch is too large",
                    _422="a wrong type, an unknown class or an empty batch",
                ),
            },
        },
        ("/healthz", "get"): {"responses": {"200": _response("serving and logging health", _ref("Health"))}},
        ("/rollout", "get"): {
            "responses": {
                "200": _response("rollout and serving state, recent timeline", _ref("RolloutStatus")),
                **_errors(_503="the state database is unavailable; retry"),
            }
        },
        ("/rollout", "post"): {
            **admin,
            "requestBody": {"required": True, "content": _json_content(_ref("RolloutSpec"))},
            "responses": {
                **admin_outcomes,
                **_errors(
                    _400="not JSON",
                    _413="the body is too large",
                    _422="not a valid RolloutSpec (the message names the field)",
                ),
            },
        },
        ("/rollout/history", "get"): {
            "responses": {
                "200": _response(
                    "the alias's periods and the one at 'at' (null before the first move)", _ref("AliasHistory")
                ),
                **_errors(_422="'at' is neither ISO 8601 nor Unix seconds", _503="the state database is unavailable"),
            }
        },
        ("/rollout/promote", "post"): {**admin, "responses": admin_outcomes},
        ("/rollout/abort", "post"): {**admin, "responses": admin_outcomes},
    }


def serving_openapi(
    base: dict[str, Any], schema: DatasetSchema, *, max_rows: int, max_feedback_items: int = 10_000
) -> dict[str, Any]:
    """``base`` (FastAPI's document) with the bodies and answers of every route, made from ``schema``."""
    doc = copy.deepcopy(base)
    spec, definitions = _rollout_spec_schema()
    components = doc.setdefault("components", {})
    components.setdefault("schemas", {}).update(
        {**_components(schema, max_rows, max_feedback_items), **definitions, "RolloutSpec": spec}
    )
    components["securitySchemes"] = {"adminToken": {"type": "http", "scheme": "bearer"}}
    text = {"schema": {"type": "string"}}
    predict_headers = {
        name: {"description": description, **text}
        for name, description in [
            ("X-Driftline-Request-Id", "the request_id"),
            ("X-Model-Version", "the version that answered"),
            ("X-Variant", "champion or candidate"),
        ]
    }
    for (path, method), operation in _operations(predict_headers).items():
        documented = doc.setdefault("paths", {}).setdefault(path, {}).setdefault(method, {})
        documented.pop("responses", None)
        documented.update(operation)
    return doc
