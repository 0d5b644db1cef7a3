"""``driftline init``: inspect the user's table, print what was inferred and why, write ``driftline.yaml``.

driftline init --data my.csv --label churned [--task binary] [--family mlp] [--out driftline.yaml]

Afterwards ``driftline train``, ``serve``, ``retrain`` and ``drift`` run on that table with no other edit (they read
``./driftline.yaml`` when no ``--config`` is given).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import yaml

from driftline.core.config import DatasetConfig, FeatureSelection, ModelFamily, Task
from driftline.core.errors import ConfigError, DataError
from driftline.datasets import InferredTable, infer_table, read_table
from driftline.datasets.schema import FeatureKind

__all__ = ["check_family", "config_text", "inspect_table", "write_config"]


def inspect_table(
    data: str,
    label: str,
    *,
    task: str | None = None,
    timestamp: str | None = None,
    exclude: list[str] | None = None,
    id_column: str | None = None,
) -> tuple[DatasetConfig, InferredTable]:
    """Read and infer the table; the dataset section that reproduces exactly this inference."""
    if "://" not in data:
        data = str(Path(data).expanduser().resolve())
    try:
        chosen = Task(task) if task else None
    except ValueError:
        raise ConfigError("--task", "task", task, " | ".join(t.value for t in Task)) from None
    table = read_table(data)
    if timestamp is None:  # one date/time column: it is the time order (printed, and written to the config)
        times = [f.name for f in table.schema if pa.types.is_temporal(f.type) and f.name != label]
        timestamp = times[0] if len(times) == 1 else None
    draft = DatasetConfig(
        path=data,
        label=label,
        task=chosen,
        timestamp=timestamp,
        id=id_column,
        features=FeatureSelection(exclude=list(exclude or [])),
    )
    if timestamp is not None:
        table = table.take(pc.sort_indices(table, sort_keys=[(timestamp, "ascending")]))
    inferred = infer_table(table, draft)
    if timestamp is not None:
        inferred = replace(inferred, notes=(*inferred.notes, f"{timestamp}: time order of the rows"))
    pinned = draft.model_copy(
        update={
            "task": inferred.task,
            "id": inferred.schema.id_column,
            "features": FeatureSelection(
                exclude=list(exclude or []),
                numeric=[f.name for f in inferred.schema.features if f.kind is FeatureKind.NUMERIC],
                categorical=[f.name for f in inferred.schema.features if f.kind is FeatureKind.CATEGORICAL],
            ),
        }
    )
    return pinned, inferred


def check_family(family: str) -> str:
    try:
        return ModelFamily(family).value
    except ValueError:
        raise ConfigError("--family", "model.family", family, " | ".join(f.value for f in ModelFamily)) from None


def config_text(
    dataset: DatasetConfig, family: str, rows: int, factory: str | None = None, uri: str | None = None
) -> str:
    """The YAML ``driftline init`` writes: the dataset section, the model family and the training rows."""
    family = check_family(family)
    model: dict[str, Any] = {"family": family}
    if family == "torch":
        if not factory:
            raise ConfigError("--factory", "model.factory", None, "your network factory, e.g. mypkg.nets:build")
        model["factory"] = factory
    if family == "pyfunc":
        if not uri:
            raise ConfigError("--uri", "model.uri", None, "your registered MLflow model, e.g. models:/churn/3")
        model |= {"uri": uri, "retrain": "none"}
    body: dict[str, Any] = {
        "dataset": dataset.model_dump(mode="json", exclude_defaults=False),
        "model": model,
        "train": {"train_rows": rows},
    }
    header = (
        f"# Written by `driftline init` on {date.today().isoformat()} from {dataset.path} ({rows:,} rows).\n"
        "# Every setting not named here keeps its default (configs/local.yaml lists them all).\n"
        "# train.train_rows: the first rows of the table, in time order, that train the champion.\n"
    )
    return header + yaml.safe_dump(body, sort_keys=False, width=110)


def write_config(out: Path, text: str, *, force: bool) -> None:
    if out.exists() and not force:
        raise DataError(f"{out} already exists.", "Pass --force to overwrite it, or --out another file.")
    out.write_text(text)
