from __future__ import annotations

import numpy as np
import pytest

from driftline.core.errors import DataError
from driftline.datasets import SYNTHETIC_SCHEMA, generate_stream
from driftline.model.bundle import ModelBundle
from driftline.model.preprocess import TabularPreprocessor
from driftline.train_jobs.evaluate import evaluate
from driftline.train_jobs.local_executor import encode_labels, fit_local
from driftline.train_jobs.loop import LoopConfig


@pytest.fixture(scope="module")
def frame():
    return generate_stream("stationary", 3000, seed=5)[0]


def test_preprocessor_scales_and_one_hot_encodes(frame) -> None:
    pre = TabularPreprocessor.fit(frame, SYNTHETIC_SCHEMA)
    encoded = pre.transform(frame)
    assert encoded.shape == (3000, 9) and encoded.dtype == np.float32  # 5 numbers, 3 regions + "other"
    assert np.allclose(encoded[:, :5].mean(axis=0), 0, atol=1e-5)
    assert np.allclose(encoded[:, 5:].sum(axis=1), 1.0) and encoded[:, 8].sum() == 0
    unseen = frame.head(3).assign(region="zzz")
    assert np.allclose(pre.transform(unseen)[:, 5:], [0, 0, 0, 1])  # unknown category: the "other" input
    assert TabularPreprocessor.from_dict(pre.to_dict()) == pre


def test_numeric_gaps_get_the_training_median_and_an_indicator(frame) -> None:
    holes = frame.copy()
    holes.loc[::10, "x0"] = np.nan
    pre = TabularPreprocessor.fit(holes, SYNTHETIC_SCHEMA)
    assert pre.missing_indicators == ("x0",) and pre.n_outputs == 10
    encoded = pre.transform(holes)
    assert encoded[::10, -1].all() and encoded[1::10, -1].sum() == 0  # the indicator is the last input
    median = (pre.medians["x0"] - pre.means["x0"]) / pre.stds["x0"]
    assert np.allclose(encoded[::10, 0], median)
    assert not np.isnan(pre.transform(frame.head(5).assign(x1=np.nan))).any()  # a gap unseen in training: median
    with pytest.raises(DataError, match="'x2' holds non-numbers"):
        pre.transform(frame.head(2).assign(x2="abc"))
    with pytest.raises(DataError, match="'x0' has no values"):
        TabularPreprocessor.fit(frame.assign(x0=np.nan), SYNTHETIC_SCHEMA)


def test_missing_column_is_a_data_error(frame) -> None:
    pre = TabularPreprocessor.fit(frame, SYNTHETIC_SCHEMA)
    with pytest.raises(DataError, match="x3"):
        pre.transform(frame.drop(columns=["x3"]))


def test_local_training_learns_and_bundle_round_trips(frame) -> None:
    bundle = ModelBundle.create(TabularPreprocessor.fit(frame, SYNTHETIC_SCHEMA), (16,), seed=0)
    before = evaluate(bundle, frame.iloc[2500:]).accuracy
    result = fit_local(bundle, frame.iloc[:2500], LoopConfig(bundle.to_bytes(), epochs=4, seed=1))
    after = evaluate(result.bundle, frame.iloc[2500:])
    assert after.accuracy > 0.78 > before and after.confusion_matrix.sum() == 500
    assert [h["epoch"] for h in result.history] == [0.0, 1.0, 2.0, 3.0]
    copy = ModelBundle.from_bytes(result.bundle.to_bytes())
    assert np.allclose(copy.predict_proba(frame.head(50)), result.bundle.predict_proba(frame.head(50)))


def test_class_weights_reweight_outputs(frame) -> None:
    bundle = ModelBundle.create(TabularPreprocessor.fit(frame, SYNTHETIC_SCHEMA), (8,), seed=0)
    base = bundle.predict_proba(frame.head(20))
    shifted = bundle.with_class_weights((1.0, 3.0)).predict_proba(frame.head(20))
    expected = base * [1.0, 3.0]
    assert np.allclose(shifted, expected / expected.sum(axis=1, keepdims=True))
    with pytest.raises(DataError):
        bundle.with_class_weights((1.0,))


def test_unknown_label_class_is_rejected(frame) -> None:
    bundle = ModelBundle.create(TabularPreprocessor.fit(frame, SYNTHETIC_SCHEMA), (8,), seed=0)
    with pytest.raises(DataError, match=r"\[7\]"):
        encode_labels(frame.head(5).assign(y=[0, 1, 7, 0, 1]), bundle)


def test_an_mlflow_outage_is_not_read_as_a_missing_alias(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import pytest

    from driftline.core.config_loader import load_config
    from driftline.core.errors import RegistryError
    from driftline.model.registry import ModelRegistry

    registry = ModelRegistry(load_config(None, workdir=tmp_path))
    assert registry.alias_version("champion") is None  # no such model yet: a real "not found"
    registry.client.create_registered_model(registry.name)
    assert registry.alias_version("champion") is None  # no such alias

    def down(*_: object) -> None:
        raise ConnectionError("Connection refused")

    registry.client.get_model_version_by_alias = down  # type: ignore[method-assign]
    with pytest.raises(RegistryError, match="unreachable"):
        registry.alias_version("champion")
