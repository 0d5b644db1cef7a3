"""The encoded training window and its seeded mini-batches: the one way both executors feed the loop.

The window is encoded once (preprocessor + label index) on the driver. The local executor iterates it in memory;
Ray Train's workers read it from the object store (zero-copy) and each takes its rank's shard.

>>> w = EncodedWindow(np.zeros((10, 2), np.float32), np.arange(10) % 2)
>>> [len(y) for _, y in w.shard(0, 2).batches(epoch=0, batch_size=4, seed=0)]
[4, 1]
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from driftline.core.errors import DataError
from driftline.model.bundle import ModelBundle

__all__ = ["EncodedWindow", "encode_labels", "regression_targets"]


def regression_targets(values: pd.Series, label: str) -> np.ndarray:
    """A regression target as float64; text, gaps or infinities are a DataError naming the column."""
    try:
        y = values.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError):
        raise DataError(
            f"The regression target {label!r} holds non-numbers (e.g. {values.iloc[0]!r}).",
            "Give numbers, or set dataset.task to binary/multiclass for a label of classes.",
        ) from None
    bad = int((~np.isfinite(y)).sum())
    if bad:
        raise DataError(f"The regression target {label!r} is missing or infinite in {bad} row(s).", "Drop those rows.")
    return y


def encode_labels(frame: pd.DataFrame, bundle: ModelBundle) -> np.ndarray:
    """Map label values to class indices (a label the model does not know is a DataError); for regression, the
    target as float64 in its own units (a missing or non-finite target is a DataError)."""
    label = bundle.preprocessor.schema.label
    if label not in frame.columns:
        raise DataError(f"Label column {label!r} is missing.", "Provide labelled rows to train on.")
    if bundle.is_regression:
        return regression_targets(frame[label], label)
    classes = list(bundle.classes)
    values = frame[label]
    index = pd.Index(classes).get_indexer(values.to_numpy())
    unknown = index < 0
    if unknown.any():
        bad = sorted(set(values[unknown].head(1000).tolist()), key=str)[:5]
        raise DataError(
            f"Label column {label!r} has value(s) {bad} that are not classes of the model {classes}.",
            "Drop or fix those rows (a new class needs a new champion: `driftline train`).",
        )
    return index.astype(np.int64)


@dataclass(frozen=True)
class EncodedWindow:
    """Encoded features (float32) and class indices (int64), or the standardised regression target (float32), of
    the rows a run trains on."""

    features: np.ndarray
    labels: np.ndarray

    @classmethod
    def encode(cls, bundle: ModelBundle, frame: pd.DataFrame) -> EncodedWindow:
        labels = encode_labels(frame, bundle)  # an unknown class is a DataError before anything is encoded
        if bundle.is_regression:
            labels = bundle.preprocessor.encode_target(labels)
        return cls(np.ascontiguousarray(bundle.preprocessor.transform(frame), np.float32), labels)

    def __len__(self) -> int:
        return len(self.labels)

    def shard(self, rank: int, world_size: int) -> EncodedWindow:
        """Rank ``rank``'s contiguous share (every row in exactly one shard)."""
        bounds = np.linspace(0, len(self), world_size + 1).astype(int)
        lo, hi = bounds[rank], bounds[rank + 1]
        return EncodedWindow(self.features[lo:hi], self.labels[lo:hi])

    def batches(self, epoch: int, batch_size: int, seed: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """A fresh seeded permutation per epoch, cut into batches (the last one may be short)."""
        features, labels = torch.as_tensor(self.features), torch.as_tensor(self.labels)
        order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed * 1000 + epoch))
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            yield features[idx], labels[idx]
