"""One contract, every model family: fit, predict in the user's classes, save/load round trip, warm start from a
parent, picklable, deterministic with a seed. Local training (no Ray): the Ray paths run in integration tests."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from driftline.core.errors import ConfigError, DataError
from driftline.datasets.synthetic import SYNTHETIC_SCHEMA, generate_stream
from driftline.model.bundle import ModelBundle
from driftline.model.preprocess import TabularPreprocessor
from driftline.train_jobs.evaluate import evaluate
from driftline.train_jobs.family_fit import fit_family_local
from driftline.train_jobs.loop import LoopConfig

FAMILIES = {
    "mlp": {"hidden_sizes": (16,)},
    "torch": {"factory": "tests.user_nets:build", "params": {"width": 16}},
    "xgboost": {"params": {"num_boost_round": 30, "warm_rounds": 10, "max_depth": 3}},
}


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    stream, _ = generate_stream("stationary", 3000, seed=3)
    return stream.assign(y=np.where(stream["y"] == 1, "yes", "no"))


@pytest.fixture(scope="module")
def schema():
    from dataclasses import replace

    return replace(SYNTHETIC_SCHEMA, classes=("no", "yes"))


def _fit(bundle: ModelBundle, rows: pd.DataFrame, seed: int = 1) -> ModelBundle:
    return fit_family_local(bundle, rows, LoopConfig(bundle.to_bytes(), epochs=3, seed=seed)).bundle


def _new(family: str, frame: pd.DataFrame, schema, seed: int = 0) -> ModelBundle:
    return ModelBundle.create_family(family, TabularPreprocessor.fit(frame, schema), seed=seed, **FAMILIES[family])


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_every_family_keeps_the_contract(family: str, frame: pd.DataFrame, schema) -> None:
    train, test = frame.iloc[:2400], frame.iloc[2400:]
    model = _fit(_new(family, train, schema), train)
    assert model.family == family and evaluate(model, test).accuracy > 0.75  # it learned
    answers = model.predict(test.head(20))
    assert set(answers) <= {"no", "yes"}  # in the user's classes
    proba = model.predict_proba(test)
    assert proba.shape == (600, 2) and np.allclose(proba.sum(axis=1), 1.0)
    copy = ModelBundle.from_bytes(model.to_bytes())  # what the registry stores and serving loads
    assert np.allclose(copy.predict_proba(test), proba)
    assert np.allclose(pickle.loads(pickle.dumps(model)).predict_proba(test), proba)  # Ray ships it by pickle
    again = _fit(_new(family, train, schema), train)
    assert np.allclose(again.predict_proba(test), proba, atol=1e-6)  # same seed, same model
    warm = _fit(model, test)  # warm start: continue from the parent on new rows
    assert not np.allclose(warm.predict_proba(test), proba)
    if family == "xgboost":
        from driftline.model.families.xgboost_booster import booster_rounds

        assert booster_rounds(warm.booster) == booster_rounds(model.booster) + 10  # continued boosting
    cold = model.fresh(TabularPreprocessor.fit(test, schema), seed=0)
    assert cold.family == family and cold.params == model.params


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_every_family_keeps_the_contract_for_regression(family: str) -> None:
    """The same contract with a numeric target: predictions are numbers in the target's units, no probabilities."""
    from driftline.datasets.synthetic import REGRESSION_SCHEMA

    stream, _ = generate_stream("regression_stationary", 3000, seed=3)
    train, test = stream.iloc[:2400], stream.iloc[2400:]
    model = _fit(_new(family, train, REGRESSION_SCHEMA), train)
    scored = evaluate(model, test)
    assert scored.metric == "rmse" and scored.rmse < 2.0 < float(test["y"].std())  # it learned (noise sd 1.0)
    values = model.predict(test)
    assert values.dtype == np.float64 and values.shape == (600,)
    assert abs(values.mean() - test["y"].mean()) < 1.0  # the standardised output is decoded to the target's units
    with pytest.raises(DataError, match="not class probabilities"):
        model.predict_proba(test)
    copy = ModelBundle.from_bytes(model.to_bytes())
    assert np.allclose(copy.predict(test), values)
    assert np.allclose(pickle.loads(pickle.dumps(model)).predict(test), values)
    assert np.allclose(_fit(_new(family, train, REGRESSION_SCHEMA), train).predict(test), values, atol=1e-5)
    warm = _fit(model, test)
    assert not np.allclose(warm.predict(test), values)
    assert warm.preprocessor.target_scale == model.preprocessor.target_scale  # the scale travels with the model


@pytest.mark.parametrize(
    ("factory", "match"),
    [
        ("tests.user_nets:wrong_shape", r"answering \(rows, 2\); it answered \(2, 3\)"),
        ("tests.user_nets:not_a_module", "returning nn.Module"),
        ("tests.user_nets:raises", "width must be positive"),
        ("tests.user_nets:nope", "import failed"),
        ("no_colon", "import path such as"),
    ],
)
def test_a_bad_factory_is_a_config_error_naming_it(factory: str, match: str, frame, schema) -> None:
    with pytest.raises(ConfigError, match=match):
        ModelBundle.create_family("torch", TabularPreprocessor.fit(frame, schema), factory=factory)


def test_unknown_family_and_untrained_booster_are_clear(frame, schema) -> None:
    pre = TabularPreprocessor.fit(frame, schema)
    with pytest.raises(DataError, match="Unknown model family 'forest'"):
        ModelBundle.create_family("forest", pre)
    with pytest.raises(DataError, match="not been trained"):
        ModelBundle.create_family("xgboost", pre).predict(frame.head(2))


class _LabelsOnly:
    """An MLflow pyfunc model that answers labels only (no raw model with predict_proba)."""

    def get_raw_model(self) -> object:
        raise AttributeError("no raw model")

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return np.where(frame["x0"] > 0, "yes", "no")


class _PerClass(_LabelsOnly):
    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        p = (frame["x0"] > 0).astype(float) * 0.6 + 0.2
        return pd.DataFrame({"proba_yes": p, "proba_no": 1 - p})  # columns in its own order


def test_pyfunc_probabilities_from_columns_or_one_hot_labels(frame) -> None:
    from driftline.model.families.pyfunc_model import pyfunc_proba

    rows = frame.head(50)
    proba, real = pyfunc_proba(_PerClass(), rows, ("no", "yes"), "models:/m/1")
    assert real and np.allclose(proba[:, 1], (rows["x0"] > 0) * 0.6 + 0.2)  # reordered to the schema's classes
    onehot, real = pyfunc_proba(_LabelsOnly(), rows, ("no", "yes"), "models:/m/1")
    assert not real and set(onehot.sum(axis=1)) == {1.0}
    with pytest.raises(DataError, match=r"answered '(yes|no)', not one of"):
        pyfunc_proba(_LabelsOnly(), rows, ("a", "b"), "models:/m/1")
