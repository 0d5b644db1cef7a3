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

__all__ = ["EncodedWindow", "encode_labels"]


def encode_labels(frame: pd.DataFrame, bundle: ModelBundle) -> np.ndarray:
    """Map label values to class indices; a label the model does not know is a DataError."""
    label = bundle.preprocessor.schema.label
    if label not in frame.columns:
        raise DataError(f"Label column {label!r} is missing.", "Provide labelled rows to train on.")
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
    """Encoded features (float32) and class indices (int64) of the rows a run trains on."""

    features: np.ndarray
    labels: np.ndarray

    @classmethod
    def encode(cls, bundle: ModelBundle, frame: pd.DataFrame) -> EncodedWindow:
        labels = encode_labels(frame, bundle)  # an unknown class is a DataError before anything is encoded
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
