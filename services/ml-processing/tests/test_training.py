"""The chronological split, the metrics beside their baseline, and refusals with numbers."""

import numpy as np
import pytest

from app import features, learners, training
from servicekit.market import Candles
from tests.utils import frame_to_candles, real_series


@pytest.fixture(scope="module")
def eurusd_candles() -> Candles:
    return frame_to_candles("EURUSD", "1h", real_series("EURUSD"))


def head(candles: Candles, n: int) -> Candles:
    fields = ("start_ms", "open", "high", "low", "close", "volume", "ticks")
    return Candles(candles.symbol, candles.interval, **{f: getattr(candles, f)[:n] for f in fields})


def test_split_is_chronological(eurusd_candles: Candles) -> None:
    data = training.prepare(eurusd_candles, 0.2)
    labelled = len(eurusd_candles) - features.LOOKBACK - 1
    assert len(data.y_train) + len(data.y_valid) == labelled
    assert len(data.y_valid) == training.validation_rows(labelled, 0.2)
    span = data.candles
    assert span["first_start_ms"] < span["train_until_ms"] < span["validation_from_ms"]
    assert span["validation_from_ms"] < span["last_start_ms"]
    # The head is exactly the first rows' features: nothing shuffled.
    table = features.build(eurusd_candles)
    np.testing.assert_array_equal(data.x_train[0], table[features.LOOKBACK])
    np.testing.assert_array_equal(data.x_valid[-1], table[-2])


def test_min_candles_is_exactly_enough(eurusd_candles: Candles) -> None:
    needed = training.min_candles(0.2)
    data = training.prepare(head(eurusd_candles, needed), 0.2)
    assert len(data.y_train) == training.MIN_TRAIN
    with pytest.raises(training.NotEnoughCandles) as refused:
        training.prepare(head(eurusd_candles, needed - 1), 0.2)
    assert refused.value.needed == needed and refused.value.available == needed - 1
    assert f"at least {needed} candles" in str(refused.value)
    assert f"{needed - 1} 1h candles of EURUSD" in str(refused.value)


def test_flat_prices_have_nothing_to_learn() -> None:
    n = 400
    flat = Candles(
        "FLAT",
        "1h",
        np.arange(n, dtype=np.int64),
        *(np.ones(n) for _ in range(5)),
        np.ones(n, np.int64),
    )
    with pytest.raises(training.NothingToLearn, match="never move both ways"):
        training.prepare(flat, 0.2)


@pytest.mark.parametrize("kind", learners.KINDS)
def test_metrics_are_sane_and_beside_the_baseline(eurusd_candles: Candles, kind: str) -> None:
    data = training.prepare(head(eurusd_candles, 1500), 0.25)
    params = learners.PARAMS[kind].model_validate(
        {"xgboost": {"n_estimators": 20}, "catboost": {"iterations": 20}}.get(kind, {})
    )
    trained = training.fit_and_score(data, kind, params, threads=2)
    m = trained.metrics
    for name in ("accuracy", "log_loss", "auc", "baseline_accuracy", "baseline_log_loss"):
        assert 0.0 <= m[name] <= 1.0, (name, m[name])
    assert m["train_rows"] == len(data.y_train) and m["validation_rows"] == len(data.y_valid)
    # The baseline answers the head's majority class, scored on the tail.
    majority = float(data.y_train.mean() >= 0.5)
    assert m["baseline_accuracy"] == pytest.approx(np.mean(data.y_valid == majority))
    # The metrics are those of the stored learner on the validation rows.
    p = trained.learner.predict(data.x_valid)
    assert m["accuracy"] == pytest.approx(np.mean((p >= 0.5) == (data.y_valid == 1.0)))
    assert trained.params == params.model_dump()
