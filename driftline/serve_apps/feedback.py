"""Validate ``POST /feedback`` bodies: ``{"request_id", "label"[, "row"], "token"}``, ``{"id", "label"[, "time"]}``
(by business key, for label pipelines holding the labeller or admin token) or ``{"items": [...]}`` of either.

``token`` is the row's feedback token from the ``/predict`` answer (see ``feedback_token.py``). A label by ``id``
joins the latest prediction of that id made at or before ``time`` (the label's event time, ISO 8601 or Unix
seconds; default: when it arrives).

>>> parse_feedback({"id": "o-17", "label": 1, "time": "1970-01-01T00:01:40Z"}, classes=(0, 1), by_id=True)
([{'id': 'o-17', 'label': 1, 'time': 100.0}], True)

>>> parse_feedback({"request_id": "r1", "label": 1, "token": "t"}, classes=(0, 1))
([{'request_id': 'r1', 'label': 1, 'row': 0, 'token': 't'}], True)
>>> parse_feedback({"request_id": "r1", "label": "yes"}, classes=("no", "yes"))[0][0]["label"]
'yes'

A label must be one of the model's classes and of the same kind: ``true`` is not the class ``1``. For a regression
model it is a finite number:

>>> parse_feedback({"request_id": "r1", "label": 12}, classes=(), regression=True)[0][0]["label"]
12.0
"""

from __future__ import annotations

import math
from enum import Enum
from typing import Any

from driftline.core.alias_history import parse_time
from driftline.core.errors import DataError
from driftline.datasets.schema import ClassValue, match_class
from driftline.serve_apps.payload import MAX_ID_CHARS, PayloadError

__all__ = ["FeedbackStatus", "item_key", "parse_feedback"]


class FeedbackStatus(str, Enum):
    """What became of one label; ``http_status`` is the answer of the single-item form."""

    ACCEPTED = "accepted"  # durable (fsynced) before the answer
    DUPLICATE = "duplicate"  # the same label was accepted before: idempotent, never counted twice
    BAD_TOKEN = "bad_token"  # no valid feedback token for this (request_id, row), and no admin bearer token
    UNKNOWN_REQUEST_ID = "unknown_request_id"  # no such prediction was ever logged
    UNKNOWN_ID = "unknown_id"  # no prediction of this business key before the label's time, within the window
    EXPIRED = "expired"  # the prediction is older than serve.feedback_window_hours: it can no longer be labelled
    CONFLICT = "conflict"  # this row already has a different label
    UNAVAILABLE = "unavailable"  # the label could not be made durable (e.g. a full disk): nothing recorded, retry

    @property
    def http_status(self) -> int:
        return _HTTP_STATUS[self]


_HTTP_STATUS = {
    FeedbackStatus.ACCEPTED: 200,
    FeedbackStatus.DUPLICATE: 200,
    FeedbackStatus.BAD_TOKEN: 403,
    FeedbackStatus.UNKNOWN_REQUEST_ID: 404,
    FeedbackStatus.UNKNOWN_ID: 404,
    FeedbackStatus.EXPIRED: 410,
    FeedbackStatus.CONFLICT: 409,
    FeedbackStatus.UNAVAILABLE: 503,
}


def _number(label: Any, where: str, index: int | None) -> float:
    """A regression label: a finite number (not a boolean)."""
    if isinstance(label, bool) or not isinstance(label, (int, float)) or not math.isfinite(label):
        raise PayloadError(
            422,
            "wrong_type",
            f"{where}'label' must be a finite number (a regression target), got {label!r}.",
            "label",
            index,
        )
    return float(label)


def _label(label: Any, classes: tuple[ClassValue, ...], where: str, index: int | None, regression: bool) -> Any:
    """The label as the model knows it: one of its classes, or a finite number for regression."""
    if regression:
        label = _number(label, where, index)
    elif not isinstance(label, (str, int, float, bool)):
        raise PayloadError(
            422,
            "wrong_type",
            f"{where}'label' must be one of the classes {list(classes)}, got {label!r}.",
            "label",
            index,
        )
    else:
        known = match_class(label, classes)
        if known is None:
            raise PayloadError(
                422, "unknown_class", f"{where}label {label!r} is not one of {list(classes)}.", "label", index
            )
        label = known
    return label


def _by_id(raw: dict[str, Any], classes: tuple[ClassValue, ...], index: int | None, regression: bool) -> dict[str, Any]:
    where = "" if index is None else f"Item {index}: "
    key, when = raw["id"], raw.get("time")
    if isinstance(key, bool) or not isinstance(key, (str, int)) or not 0 < len(str(key)) <= MAX_ID_CHARS:
        raise PayloadError(
            422, "bad_id", f"{where}'id' must be a string or integer of 1 to {MAX_ID_CHARS} characters.", "id", index
        )
    unknown = set(raw) - {"id", "label", "time"}
    if unknown:
        raise PayloadError(422, "bad_item", f"{where}a label by id takes id, label and time, not {sorted(unknown)}.")
    if when is not None:
        if isinstance(when, bool) or not isinstance(when, (str, int, float)):
            raise PayloadError(422, "wrong_type", f"{where}'time' must be ISO 8601 or Unix seconds.", "time", index)
        try:
            when = parse_time(str(when))
        except DataError as err:
            raise PayloadError(422, "bad_time", f"{where}{err}", "time", index) from None
    return {"id": str(key), "label": _label(raw.get("label"), classes, where, index, regression), "time": when}


def _item(
    raw: Any, classes: tuple[ClassValue, ...], index: int | None, regression: bool = False, by_id: bool = False
) -> dict[str, Any]:
    where = "" if index is None else f"Item {index}: "
    if not isinstance(raw, dict):
        raise PayloadError(422, "bad_item", f"{where}feedback must be an object {{request_id, label}}.", row=index)
    if "id" in raw and "request_id" not in raw:
        if not by_id:
            raise PayloadError(
                422,
                "no_business_key",
                f"{where}this model has no business key (dataset.id): label by request_id.",
                "id",
                index,
            )
        return _by_id(raw, classes, index, regression)
    request_id, label, row = raw.get("request_id"), raw.get("label"), raw.get("row", 0)
    if not isinstance(request_id, str) or not request_id:
        raise PayloadError(
            422,
            "bad_request_id",
            f"{where}'request_id' (or a business key, 'id') must be a non-empty string.",
            "request_id",
            index,
        )
    label = _label(label, classes, where, index, regression)
    if isinstance(row, bool) or not isinstance(row, int) or row < 0:
        raise PayloadError(422, "wrong_type", f"{where}'row' must be an integer >= 0.", "row", index)
    token = raw.get("token")
    if token is not None and not isinstance(token, str):
        raise PayloadError(422, "wrong_type", f"{where}'token' must be the string /predict returned.", "token", index)
    return {"request_id": request_id, "label": label, "row": row, "token": token}


def parse_feedback(
    body: Any,
    classes: tuple[ClassValue, ...],
    max_items: int = 10_000,
    regression: bool = False,
    by_id: bool = False,
) -> tuple[list[dict[str, Any]], bool]:
    """The validated items and whether the body was the single-item form; ``regression``: labels are numbers;
    ``by_id``: the model has a business key, so items may name it (``id``) instead of a request."""
    if not isinstance(body, dict):
        raise PayloadError(400, "bad_body", "The body must be a JSON object.")
    if "items" not in body:
        return [_item(body, classes, None, regression, by_id)], True
    items = body["items"]
    if not isinstance(items, list) or not items:
        raise PayloadError(422, "empty_batch", "'items' must be a non-empty list.", "items")
    if len(items) > max_items:
        raise PayloadError(413, "batch_too_large", f"{len(items)} items exceed {max_items}; split the batch.")
    return [_item(raw, classes, i, regression, by_id) for i, raw in enumerate(items)], False


def item_key(item: dict[str, Any]) -> dict[str, Any]:
    """What names a parsed item in its outcome: its business key, or its request id and row."""
    return {"id": item["id"]} if "id" in item else {"request_id": item["request_id"], "row": int(item.get("row", 0))}
