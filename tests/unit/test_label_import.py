"""The label import's own logic, against a stand-in for the app: streaming batches, bad values with their reasons,
a refused item leaving the rest of its batch, and the counts (the real app: tests/integration/test_business_keys.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from driftline.core.errors import DataError
from driftline.platform.label_import import ItemRefused, import_labels


class FakeApp:
    """Knows orders o-0..o-89 with label 1 (o-5 labelled 0 already); refuses the label 'maybe' like a 422."""

    def __init__(self) -> None:
        self.calls: list[list[dict[str, Any]]] = []
        self.labels: dict[str, Any] = {"o-5": 0}

    def send(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        self.calls.append(list(items))
        for index, item in enumerate(items):
            if item["label"] == "maybe":
                raise ItemRefused(index, "label 'maybe' is not one of [0, 1].")
        outcomes = []
        for item in items:
            key = item["id"]
            if int(key.split("-")[1]) >= 90:
                outcomes.append({"id": key, "status": "unknown_id"})
            elif key in self.labels:
                same = self.labels[key] == item["label"]
                outcomes.append({"id": key, "status": "duplicate" if same else "conflict"})
            else:
                self.labels[key] = item["label"]
                outcomes.append({"id": key, "status": "accepted"})
        return outcomes


@pytest.fixture
def labels(tmp_path: Path) -> str:
    rows = [{"order_id": f"o-{i}", "y": 1, "at": "2026-12-07T10:00:00Z"} for i in range(100)]
    rows[3]["y"] = None  # no label
    rows[7]["order_id"] = None  # no id
    rows[42]["y"] = "maybe"  # refused by the app
    folder = tmp_path / "labels"
    folder.mkdir()
    frame = pd.DataFrame(rows).astype({"y": object})
    frame.iloc[:60].to_csv(folder / "part-0.csv", index=False)
    frame.iloc[60:].to_parquet(folder / "part-1.parquet")
    return str(folder)


def test_an_import_streams_batches_and_counts_every_row(labels: str) -> None:
    app, seen = FakeApp(), []
    report = import_labels(labels, "order_id", "y", app, time_column="at", batch_size=25, progress=seen.append)
    assert report.rows == 100 and seen[-1] == 100 and len(seen) == 5  # 3 batches of the CSV, 2 of the Parquet
    assert max(len(call) for call in app.calls) <= 25
    assert report.counts == {"joined": 86, "conflict": 1, "unknown_id": 10, "bad_value": 3}
    assert report.problems == ["row 3: no label", "row 7: no id", "row 42: label 'maybe' is not one of [0, 1]."]
    assert app.calls[0][0]["time"] == "2026-12-07T10:00:00+00:00"  # the CSV's timestamps, sent as ISO 8601
    again = import_labels(labels, "order_id", "y", app, time_column="at", batch_size=25)
    assert again.counts["duplicate"] == 86 and "joined" not in again.counts  # idempotent
    assert "joined 86" in report.summary() and "bad_value 3" in report.summary()


def test_a_missing_column_names_the_file_and_its_columns(labels: str) -> None:
    with pytest.raises(DataError, match=r"lacks column\(s\) \['is_fraud'\].*order_id"):
        import_labels(labels, "order_id", "is_fraud", FakeApp())
