"""A model host answers a batch of concurrent calls with one model call, each call getting its own rows back."""

from __future__ import annotations

import random

import numpy as np
import pytest

from driftline.core.config import DataConfig
from driftline.datasets import load_stream
from driftline.datasets.synthetic import SYNTHETIC_SCHEMA
from driftline.model.bundle import ModelBundle
from driftline.model.preprocess import TabularPreprocessor
from driftline.serve_apps.model_host import InjectedFault, LoadedModel, ModelHost, ModelNotReady


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    stream, schema = load_stream(DataConfig(scenario="stationary", n_rows=600))
    return stream[list(schema.feature_names)].to_dict("records")


def _replica(rows: list[dict], fault_rate: float = 0.0, versions: tuple[str, ...] = ("7",)) -> ModelHost:
    """A host holding ``versions`` of a small model (each its own weights), without Serve or MLflow (only the batch
    logic runs)."""
    import pandas as pd

    host = object.__new__(ModelHost)
    host._random, host._models = random.Random(0), {}
    for seed, version in enumerate(versions):
        bundle = ModelBundle.create(TabularPreprocessor.fit(pd.DataFrame(rows), SYNTHETIC_SCHEMA), (8,), seed=seed)
        host._models[version] = LoadedModel(version, bundle, bundle.build_network().eval(), fault_rate=fault_rate)
    return host


def test_a_batch_answers_each_call_as_it_would_alone(rows) -> None:
    replica = _replica(rows)
    calls = [(rows[0:1], "7"), (rows[1:4], "7"), (rows[4:5], "7")]
    batched = replica.answer(calls)
    alone = [replica.answer([call])[0] for call in calls]
    assert [len(a.predictions) for a in batched] == [1, 3, 1]
    for together, single in zip(batched, alone, strict=True):
        assert together.predictions == single.predictions and together.model_version == "7"
        np.testing.assert_allclose(together.probabilities, single.probabilities, atol=1e-6)


def test_a_call_for_another_version_fails_alone_and_the_rest_are_answered(rows) -> None:
    replica = _replica(rows)
    answers = replica.answer([(rows[0:2], "7"), (rows[2:3], "8"), (rows[3:4], "7")])
    assert isinstance(answers[1], ModelNotReady)
    assert [len(answers[0].predictions), len(answers[2].predictions)] == [2, 1]


def test_injected_faults_hit_single_calls_not_the_whole_batch(rows) -> None:
    replica = _replica(rows, fault_rate=0.5)
    answers = replica.answer([(rows[i : i + 1], "7") for i in range(200)])
    failed = sum(isinstance(a, InjectedFault) for a in answers)
    assert 60 < failed < 140  # about half, each call on its own
    assert all(len(a.predictions) == 1 for a in answers if not isinstance(a, Exception))


def test_a_batch_of_two_versions_answers_each_call_with_its_own_version(rows) -> None:
    """Inline, one batch holds champion and candidate calls: one model call per version, each call its own."""
    host = _replica(rows, versions=("7", "8"))
    calls = [(rows[0:2], "7"), (rows[2:3], "8"), (rows[3:5], "7"), (rows[5:6], "8")]
    together = host.answer(calls)
    assert [a.model_version for a in together] == ["7", "8", "7", "8"]
    for call, answer in zip(calls, together, strict=True):
        alone = host.answer([call])[0]
        assert answer.predictions == alone.predictions
        np.testing.assert_allclose(answer.probabilities, alone.probabilities, atol=1e-6)
    assert host.answer([(rows[0:1], "9")])[0].__class__ is ModelNotReady
