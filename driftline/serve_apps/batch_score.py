"""``driftline score``: the champion over a table on Ray Data, leaving the same prediction-log records as serving.

    driftline score --data s3://bucket/day=2026-12-07/ --out preds/ [--model NAME] [--candidate shadow|ab]

The table is read by Ray Data and scored by an actor pool (each actor loads the model once; ``serve.batch_size``
rows a call). Every actor writes its own part files, so nothing but counts travels back to the driver and memory
stays flat in the table's size:

- ``<out>/part-*.parquet``: the user's answer per row: its business key (when the model has one), ``prediction``,
  ``probabilities`` (classifiers), ``model_version``, and the ``request_id`` / ``row`` the labels can name;
- ``<out>/_rejects/part-*.parquet``: every row that could not be scored (a missing feature, a wrong type, a
  non-finite number, no id) with its reason and its values as JSON; the job never stops for it (the leading ``_``
  keeps it out of what pyarrow, Spark or Ray Data read as ``<out>``);
- the prediction log (``<workdir>/logs/predictions/...``) gets the rows as a router would log them, with
  ``source = batch``: drift windows, estimated performance, label joins (by id too: the log writer takes in new log
  files every ``serve.log_rescan_seconds``) and the retrain loop see batch-scored rows as they see served ones.

A candidate can be scored too: ``shadow`` (its answers logged as role shadow, never in the output) or ``ab`` (the
rows whose id hashes into ``candidate_share`` get its answer, logged as the candidate's).
"""

from __future__ import annotations

import json
import math
import time
import uuid
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from driftline.core.config import DriftlineConfig
from driftline.core.errors import DataError
from driftline.core.records import PredictionRecord, Role, Source, Variant
from driftline.datasets.schema import DatasetSchema, FeatureKind
from driftline.serve_apps.assignment import bucket
from driftline.serve_apps.payload import MAX_ID_CHARS, MAX_NUMERIC
from driftline.serve_apps.prediction_log import PREDICTIONS, ParquetSink
from driftline.serve_apps.request_ids import new_request_id

__all__ = ["CandidateUse", "ScoreSummary", "score_table", "split_rows"]

_REJECTS = "_rejects"  # "_": readers of <out> (pyarrow, Spark, Ray Data) skip it


class CandidateUse(str, Enum):
    """What the candidate does in a batch job: nothing, answer in shadow, or answer a hashed share of the rows."""

    NONE = "none"
    SHADOW = "shadow"
    AB = "ab"


@dataclass
class ScoreSummary:
    """What a batch job did: rows scored and refused (with the reasons' counts), where, how fast."""

    rows: int = 0
    scored: int = 0
    rejected: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    candidate_rows: int = 0
    seconds: float = 0.0
    cpus: float = 1.0
    champion_version: str = ""
    candidate_version: str | None = None

    def line(self) -> str:
        rate = self.rows / self.seconds if self.seconds > 0 else 0.0
        reasons = ", ".join(f"{reason} {n:,}" for reason, n in sorted(self.reasons.items())) or "none"
        who = f"champion v{self.champion_version}" + (
            f", candidate v{self.candidate_version} on {self.candidate_rows:,} rows" if self.candidate_version else ""
        )
        return (
            f"{self.rows:,} rows in {self.seconds:.1f} s ({rate:,.0f} rows/s, {rate / max(self.cpus, 1e-9):,.0f} per "
            f"core on {self.cpus:g} cores): {self.scored:,} scored by {who}; {self.rejected:,} rejected ({reasons})"
        )


def split_rows(frame: pd.DataFrame, schema: DatasetSchema) -> tuple[pd.DataFrame, list[str] | None, pd.Series]:
    """The rows the model can take (features in schema order, numbers as float, categories as str), their ids,
    and for every row the reason it cannot be scored ("" when it can), decided column by column.

    >>> from driftline.datasets.schema import FeatureSpec
    >>> schema = DatasetSchema((FeatureSpec("x", FeatureKind.NUMERIC),), "y", (0, 1), id_column="k")
    >>> ok, ids, why = split_rows(pd.DataFrame({"x": [1.0, "a", float("inf"), 2], "k": ["a", "b", "c", None]}), schema)
    >>> ok["x"].tolist(), ids, why.tolist()
    ([1.0], ['a'], ['', "feature 'x' is not a number", "feature 'x' is not finite", 'no id (k)'])
    """
    why = pd.Series("", index=frame.index, dtype=object)

    def refuse(mask: Any, reason: str) -> None:
        fresh = np.asarray(mask, dtype=bool) & (why == "").to_numpy()
        why[fresh] = reason

    columns: dict[str, pd.Series] = {}
    for spec in schema.features:
        if spec.name not in frame.columns:
            refuse(np.ones(len(frame), bool), f"feature '{spec.name}' is missing")
            columns[spec.name] = pd.Series(np.nan, index=frame.index)
            continue
        raw = frame[spec.name]
        if spec.kind is FeatureKind.NUMERIC:
            is_bool = raw.map(lambda v: isinstance(v, (bool, np.bool_))).to_numpy(dtype=bool)
            values = pd.to_numeric(raw.where(~is_bool), errors="coerce").astype(float)
            refuse(is_bool | (raw.notna() & values.isna()).to_numpy(), f"feature '{spec.name}' is not a number")
            refuse(np.isinf(values.to_numpy()), f"feature '{spec.name}' is not finite")
            refuse((values.abs() > MAX_NUMERIC).to_numpy(), f"feature '{spec.name}' is beyond ±{MAX_NUMERIC:g}")
            columns[spec.name] = values
        else:
            columns[spec.name] = raw.map(
                lambda v: None if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)
            )
    ids = None
    if schema.id_column:
        key = frame[schema.id_column] if schema.id_column in frame.columns else pd.Series(None, index=frame.index)
        text = key.map(_text)
        refuse(text.isna().to_numpy() | (text == "").to_numpy(), f"no id ({schema.id_column})")
        refuse(text.fillna("").str.len().to_numpy() > MAX_ID_CHARS, f"id longer than {MAX_ID_CHARS} characters")
    ok = (why == "").to_numpy()
    features = pd.DataFrame(columns, index=frame.index)[ok].reset_index(drop=True)
    if schema.id_column:
        ids = text[ok].tolist()
    return features, ids, why


@dataclass(frozen=True)
class _Answer:
    labels: list[Any]
    proba: list[list[float]]
    version: str
    latency_ms: float


def _text(value: Any) -> str | None:
    """A category or an id as a string; None, NaN and pandas' NA stay missing."""
    return None if value is None or (not isinstance(value, str) and bool(pd.isna(value))) else str(value)


class _Scorer:
    """One Ray Data actor: the champion (and the candidate) loaded once; each call scores a batch, writes the
    output, the rejects and the log records, and returns only counts."""

    def __init__(self, cfg_json: str, out: str, versions: dict[str, str | None], use: str, share: float) -> None:
        import torch

        from driftline.serve_apps.model_host import load_version

        torch.set_num_threads(1)
        self.cfg = DriftlineConfig.model_validate_json(cfg_json)
        self.out, self.use, self.share = Path(out), CandidateUse(use), share
        self.champion = load_version(self.cfg, versions["champion"] or "")
        candidate = versions.get("candidate")
        self.candidate = load_version(self.cfg, candidate) if candidate and self.use is not CandidateUse.NONE else None
        self.sink = ParquetSink(self.cfg.workdir_path / "logs")
        self.model_name = self.cfg.mlflow.model_name

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        from driftline.serve_apps.model_host import predict_frame

        schema = self.champion.bundle.preprocessor.schema
        features, ids, why = split_rows(batch, schema)
        rejected = why != ""
        if rejected.any():
            self._write_rejects(batch[rejected.to_numpy()], why[rejected])
        counts: dict[str, Any] = {"rows": len(batch), "scored": len(features), "candidate_rows": 0}
        counts["reasons"] = json.dumps(why[rejected].value_counts().to_dict())
        if len(features):
            counts["candidate_rows"] = self._score(features, ids, predict_frame)
        return pd.DataFrame([counts])

    def _score(self, features: pd.DataFrame, ids: list[str] | None, predict: Any) -> int:
        """Score ``features``, log every answer and write the served ones; returns the rows the candidate served.
        Each model scores only the rows it answers (A/B), or every row once (champion, and a shadow candidate)."""
        everyone = np.arange(len(features))
        groups = [(Variant.CHAMPION, self.champion, everyone)]
        if self.candidate is not None and self.use is CandidateUse.AB:
            keys = ids or [uuid.uuid4().hex for _ in everyone]  # no business key: a random split of the rows
            threshold = round(self.share * 10_000)
            take = np.array([bucket(f"batch:{self.candidate.version}", key) < threshold for key in keys], bool)
            groups = [
                (Variant.CHAMPION, self.champion, np.flatnonzero(~take)),
                (Variant.CANDIDATE, self.candidate, np.flatnonzero(take)),  # its own request, as the router logs it
            ]
        shadow = self.candidate if self.use is CandidateUse.SHADOW else None
        chosen = 0
        for variant, model, rows in groups:
            if not len(rows):
                continue
            request_id, now = new_request_id(time.time()), time.time()
            part = features.iloc[rows].reset_index(drop=True)
            part_ids = [ids[i] for i in rows] if ids is not None else None
            answer = self._answer(model, part, predict)
            self.sink.write(
                PREDICTIONS, self._record(request_id, now, variant, Role.SERVED, part, part_ids, answer).rows()
            )
            if shadow is not None:  # the same rows, the same request: the candidate's answer nobody receives
                mirrored = self._answer(shadow, part, predict)
                record = self._record(request_id, now, Variant.CANDIDATE, Role.SHADOW, part, part_ids, mirrored)
                self.sink.write(PREDICTIONS, record.rows())
            self._write_output(request_id, part_ids, answer)
            chosen += len(rows) if variant is Variant.CANDIDATE else 0
        return chosen

    @staticmethod
    def _answer(model: Any, features: pd.DataFrame, predict: Any) -> _Answer:
        started = time.perf_counter()
        labels, proba = predict(model, features)
        return _Answer(labels, proba, model.version, (time.perf_counter() - started) * 1000.0)

    def _record(
        self,
        request_id: str,
        now: float,
        variant: Variant,
        role: Role,
        features: pd.DataFrame,
        ids: list[str] | None,
        answer: _Answer,
    ) -> PredictionRecord:
        rows = features.astype(object).where(features.notna(), None).to_dict("records")
        return PredictionRecord(
            request_id,
            "",
            now,
            self.model_name,
            answer.version,
            variant,
            role,
            rows,
            answer.labels,
            answer.proba,
            answer.latency_ms,
            ids,
            Source.BATCH,
        )

    def _write_output(self, request_id: str, ids: list[str] | None, answer: _Answer) -> None:
        schema = self.champion.bundle.preprocessor.schema
        table: dict[str, Any] = {}
        if schema.id_column and ids is not None:
            table[schema.id_column] = ids
        table |= {"prediction": answer.labels, "model_version": answer.version, "request_id": request_id}
        table["row"] = range(len(answer.labels))
        if not schema.is_regression:
            table["probabilities"] = answer.proba
        self.out.mkdir(parents=True, exist_ok=True)
        pd.DataFrame(table).to_parquet(self.out / f"part-{uuid.uuid4().hex}.parquet", index=False)

    def _write_rejects(self, rows: pd.DataFrame, why: pd.Series) -> None:
        folder = self.out / _REJECTS
        folder.mkdir(parents=True, exist_ok=True)
        records = [json.dumps(r, default=str) for r in rows.to_dict("records")]
        rejects = pd.DataFrame({"reason": why.tolist(), "values": records})
        rejects.to_parquet(folder / f"part-{uuid.uuid4().hex}.parquet", index=False)


def score_table(
    cfg: DriftlineConfig,
    data: str,
    out: str | Path,
    *,
    use: CandidateUse = CandidateUse.NONE,
    share: float = 0.1,
    batch_size: int | None = None,
    actors: int | None = None,
    progress: Any = lambda rows: None,
) -> ScoreSummary:
    """Score every row of ``data`` with the champion of ``cfg.mlflow.model_name`` on Ray Data (see module doc)."""
    import ray

    from driftline.core.ray_runtime import ensure_ray
    from driftline.datasets.table import table_files
    from driftline.model.registry import CANDIDATE, CHAMPION, ModelRegistry

    if not 0.0 <= share <= 1.0:
        raise DataError(f"--share {share} is outside [0, 1].", "Give the candidate's share of rows, e.g. 0.2.")
    target = Path(out)
    if target.exists() and any(target.glob("part-*.parquet")):
        raise DataError(f"{target} already holds scored parts.", "Give --out an empty or new folder.")
    registry = ModelRegistry(cfg)
    champion = registry.alias_version(CHAMPION)
    if champion is None:
        raise DataError(f"Model {registry.name!r} has no champion to score with.", "Train one first: driftline train.")
    candidate = registry.alias_version(CANDIDATE) if use is not CandidateUse.NONE else None
    if use is not CandidateUse.NONE and candidate is None:
        raise DataError(f"--candidate {use.value}, but {registry.name!r} has no 'candidate' alias.", "Retrain first.")
    _, files = table_files(data)
    kinds = {"csv" if f.lower().endswith((".csv", ".csv.gz")) else "parquet" for f in files}
    if len(kinds) != 1:
        raise DataError(f"{data} mixes CSV and Parquet files.", "Score one kind at a time.")
    ensure_ray(cfg)
    started = time.perf_counter()
    source = data if "://" in data else files
    dataset = ray.data.read_csv(source) if kinds == {"csv"} else ray.data.read_parquet(source)
    cpus = float(ray.cluster_resources().get("CPU", 1.0))
    pool = actors or max(1, int(cpus) - 1)  # leave a core to the reads
    scored = dataset.map_batches(
        _Scorer,
        fn_constructor_kwargs={
            "cfg_json": cfg.model_dump_json(),
            "out": str(target),
            "versions": {"champion": champion, "candidate": candidate},
            "use": use.value,
            "share": share,
        },
        batch_size=batch_size or cfg.serve.score_batch_rows,
        batch_format="pandas",
        concurrency=pool,
        num_cpus=1,
    )
    summary = ScoreSummary(cpus=min(cpus, pool + 1), champion_version=champion, candidate_version=candidate)
    for counts in scored.iter_batches(batch_format="pandas", batch_size=None):
        for row in counts.to_dict("records"):
            summary.rows += int(row["rows"])
            summary.scored += int(row["scored"])
            summary.candidate_rows += int(row["candidate_rows"])
            for reason, n in json.loads(row["reasons"]).items():
                summary.reasons[reason] = summary.reasons.get(reason, 0) + int(n)
        progress(summary.rows)
    summary.rejected = summary.rows - summary.scored
    summary.seconds = time.perf_counter() - started
    return summary
