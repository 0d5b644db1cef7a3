"""``driftline labels import``: labels from the table they live in, joined to predictions by business key.

driftline labels import --data chargebacks.parquet --id order_id --label is_fraud [--time labelled_at]

The table (Parquet or CSV: a file, a folder, a glob or a pyarrow URI) is read a batch at a time, never whole, and
each batch goes to the Serve app's ``POST /feedback`` by ``id`` under the labeller token. A label answered
``accepted`` is durable before the answer (the app's promise), so the report counts only what is on disk; importing
the same table again answers ``duplicate`` for every label (idempotent), and an import killed half-way and run again
leaves every label exactly once. A value the app refuses (an unknown class, a non-number for a regression model)
is counted as ``bad_value`` with the reason, and the rest of its batch goes on; a batch the app cannot make durable
now (503, a writer restarting) is sent again.

>>> items, bad = label_items(pa.record_batch({"k": ["a", None, "c"], "y": [1, 0, None]}), "k", "y", None)
>>> items, bad
([{'id': 'a', 'label': 1}], ['row 1: no id', 'row 2: no label'])
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any, Protocol

import pyarrow as pa

from driftline.core.errors import DataError, ServingError
from driftline.datasets.table import iter_batches

__all__ = ["FeedbackSink", "HttpFeedbackSink", "ImportReport", "ItemRefused", "import_labels", "label_items"]

JOINED = "joined"  # the app's "accepted": joined to a prediction and durable
BAD_VALUE = "bad_value"
_SHOWN_PROBLEMS = 20


class ItemRefused(Exception):
    """The app refused one item of a batch (a 422 naming it): ``index`` in the batch, and why."""

    def __init__(self, index: int, message: str) -> None:
        super().__init__(message)
        self.index, self.message = index, message


class FeedbackSink(Protocol):
    """Where labels go: the outcome of each item, in order (see :class:`HttpFeedbackSink`)."""

    def send(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]: ...


@dataclass
class ImportReport:
    """What became of every row of the table: counts per outcome, and the first problems with their reasons."""

    counts: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    rows: int = 0
    seconds: float = 0.0

    def problem(self, where: str) -> None:
        self.counts[BAD_VALUE] += 1
        if len(self.problems) < _SHOWN_PROBLEMS:
            self.problems.append(where)

    def summary(self) -> str:
        order = [JOINED, "duplicate", "conflict", "unknown_id", "expired", BAD_VALUE]
        parts = [f"{name} {self.counts.get(name, 0):,}" for name in order]
        parts += [f"{name} {n:,}" for name, n in sorted(self.counts.items()) if name not in order]
        rate = self.rows / self.seconds if self.seconds > 0 else 0.0
        return f"{self.rows:,} labels in {self.seconds:.1f} s ({rate:,.0f}/s): " + ", ".join(parts)


def _time(value: Any) -> Any:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).isoformat()
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=timezone.utc).isoformat()
    return value


def label_items(
    batch: pa.RecordBatch, id_column: str, label_column: str, time_column: str | None, first_row: int = 0
) -> tuple[list[dict[str, Any]], list[str]]:
    """The batch's rows as ``/feedback`` items by id, and why each row left out was left out (no id, no label)."""
    ids = batch.column(id_column).to_pylist()
    labels = batch.column(label_column).to_pylist()
    times = batch.column(time_column).to_pylist() if time_column else [None] * len(ids)
    items, bad = [], []
    for offset, (key, label, when) in enumerate(zip(ids, labels, times, strict=True)):
        where = f"row {first_row + offset}"
        if key is None or key == "":
            bad.append(f"{where}: no id")
        elif label is None or label == "" or (isinstance(label, float) and label != label):  # CSV: "" is no label
            bad.append(f"{where}: no label")
        else:
            item = {"id": str(key), "label": label}
            if when is not None:
                item["time"] = _time(when)
            items.append(item)
    return items, bad


def import_labels(
    data: str,
    id_column: str,
    label_column: str,
    sink: FeedbackSink,
    *,
    time_column: str | None = None,
    batch_size: int = 1_000,
    progress: Callable[[int], None] = lambda _: None,
) -> ImportReport:
    """Send every row of ``data`` to ``sink`` a batch at a time; ``progress`` gets the rows done after each batch."""
    report, started = ImportReport(), time.perf_counter()
    columns = [id_column, label_column, *([time_column] if time_column else [])]
    for _, batch in iter_batches(data, columns, batch_size):
        items, bad = label_items(batch, id_column, label_column, time_column, report.rows)
        for reason in bad:
            report.problem(reason)
        rows = list(range(report.rows, report.rows + len(items)))  # the table row of each item, for problems
        while items:
            try:
                outcomes = sink.send(items)
            except ItemRefused as refused:  # one bad value: counted with its reason, the rest of the batch goes on
                report.problem(f"row {rows[refused.index]}: {refused.message}")
                del items[refused.index], rows[refused.index]
                continue
            for outcome in outcomes:
                status = outcome.get("status", "unknown")
                report.counts[JOINED if status == "accepted" else status] += 1
            break
        report.rows += batch.num_rows
        progress(report.rows)
    report.seconds = time.perf_counter() - started
    return report


class HttpFeedbackSink:
    """The Serve app's ``/feedback`` (``/models/{model}/feedback`` for one model of a fleet) under ``token``."""

    def __init__(
        self, url: str, token: str | None, model: str | None = None, timeout: float = 60.0, attempts: int = 8
    ) -> None:
        import httpx

        if not token:
            raise DataError(
                "Importing labels by id needs the app's labeller (or admin) token.",
                "Set DRIFTLINE_LABELLER_TOKEN (or DRIFTLINE_ADMIN_TOKEN) to the token the app was started with.",
            )
        base = url.rstrip("/")
        self.url = f"{base}/models/{model}/feedback" if model else f"{base}/feedback"
        self._client = httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=timeout)
        self._attempts = attempts

    def send(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The outcome of every item; labels the app could not make durable yet are sent again (idempotent)."""
        outcomes: list[dict[str, Any] | None] = [None] * len(items)
        waiting = list(range(len(items)))
        for attempt in range(self._attempts):
            answered = self._post([items[i] for i in waiting])
            again = []
            for index, outcome in zip(waiting, answered, strict=True):
                if outcome.get("status") == "unavailable":
                    again.append(index)
                else:
                    outcomes[index] = outcome
            if not again:
                return [o for o in outcomes if o is not None]
            waiting = again
            time.sleep(min(0.5 * 2**attempt, 10.0))
        raise ServingError(
            f"{self.url} could not make {len(waiting)} labels durable after {self._attempts} attempts.",
            "Check the app's /healthz (logs: degraded?) and run the import again: what landed is kept once.",
        )

    def _post(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        import httpx

        for attempt in range(self._attempts):
            try:
                response = self._client.post(self.url, json={"items": items})
            except httpx.TransportError as exc:
                failure = f"did not answer: {exc}"
            else:
                if response.status_code == 200:
                    return list(response.json()["results"])
                if response.status_code == 422:
                    error = response.json().get("error", {})
                    if isinstance(error.get("row"), int):
                        raise ItemRefused(error["row"], error.get("message", "refused"))
                if response.status_code in (401, 403):
                    raise ServingError(
                        f"{self.url} refused the token (HTTP {response.status_code}).",
                        "Set DRIFTLINE_LABELLER_TOKEN to the app's labeller token (or the admin token).",
                    )
                if response.status_code != 503:
                    raise ServingError(
                        f"{self.url} answered HTTP {response.status_code}: {response.text[:1000]}",
                        "Fix what it says and run the import again: what landed is kept once.",
                    )
                failure = "answered 503"
            time.sleep(min(0.5 * 2**attempt, 10.0))
        raise ServingError(
            f"{self.url} {failure} after {self._attempts} attempts.",
            "Start the app (driftline serve) or pass --url with its address; run the import again when it answers.",
        )
