"""The classifier strategy: no look-ahead, honest scores, and that it learns what it can."""

import math

import numpy as np
import pytest

from app import ml
from app.strategies import MlParams
from servicekit.market import Candles
from tests.utils import closes_to_candles, frame_to_candles, real_series


@pytest.fixture(scope="module")
def eurusd() -> Candles:
    return frame_to_candles("EURUSD", "1h", real_series("EURUSD").iloc[:1500])


def _head(candles: Candles, n: int) -> Candles:
    fields = ("start_ms", "open", "high", "low", "close", "volume", "ticks")
    return Candles(candles.symbol, candles.interval, **{f: getattr(candles, f)[:n] for f in fields})


def test_features_use_no_later_candle(eurusd: Candles) -> None:
    full = ml.features(eurusd)
    for k in (40, 200, 777):
        np.testing.assert_array_equal(ml.features(_head(eurusd, k + 1))[k], full[k])
    assert np.isnan(full[ml.FEATURE_LOOKBACK - 1]).any()
    assert not np.isnan(full[ml.FEATURE_LOOKBACK :]).any()


def test_labels_are_the_next_move() -> None:
    candles = closes_to_candles([1.0, 2.0, 2.0, 1.0, 3.0])
    # up, unchanged (not up), down, up; the last is unknown.
    assert ml.labels(candles)[:-1].tolist() == [1.0, 0.0, 0.0, 1.0]
    assert math.isnan(ml.labels(candles)[-1])


def test_an_alternating_market_is_learnt() -> None:
    # Up 1%, down 1%, ...: the last return says where the next goes. The series ends on a down
    # move (an odd count of moves from the start), so the call is buy.
    closes = [100.0]
    for i in range(300):
        closes.append(closes[-1] * (1.01 if i % 2 == 0 else 1 / 1.01) * (1 + 1e-4 * (i % 7)))
    prediction = ml.predict_last(closes_to_candles(closes), MlParams())
    assert prediction.holdout_accuracy == 1.0
    assert prediction.baseline_accuracy == pytest.approx(0.5, abs=0.1)
    assert prediction.p_up > 0.9
    assert prediction.signal(0.05) == "buy"


@pytest.mark.parametrize("model", ["logistic", "forest"])
def test_scores_on_real_prices_are_honest(eurusd: Candles, model: str) -> None:
    prediction = ml.predict_last(eurusd, MlParams(model=model, test_fraction=0.25))
    labelled = len(eurusd) - 1 - ml.FEATURE_LOOKBACK
    assert prediction.test_rows == math.ceil(0.25 * labelled)
    assert prediction.train_rows + prediction.test_rows == labelled
    # Hourly EURUSD is close to a coin toss: an honest held-out score is near one half.
    assert 0.35 < prediction.holdout_accuracy < 0.65
    assert 0.35 < prediction.baseline_accuracy < 0.65
    assert 0.0 < prediction.p_up < 1.0


def test_min_candles_is_exact(eurusd: Candles) -> None:
    params = MlParams()
    needed = ml.min_candles(params)
    assert ml.predict_last(_head(eurusd, needed), params).train_rows == ml.MIN_TRAIN
    with pytest.raises(ml.NotEnoughHistory, match="the model needs 50 to train"):
        ml.predict_last(_head(eurusd, needed - 1), params)


def test_one_way_history_has_nothing_to_learn() -> None:
    closes = [100.0 + i + 0.3 * (i % 3) for i in range(200)]  # rises by 1.3, 1.3, 0.4, ...
    with pytest.raises(ml.NotEnoughHistory, match="never move both ways"):
        ml.predict_last(closes_to_candles(closes), MlParams())


def test_backtest_positions_are_out_of_sample(eurusd: Candles) -> None:
    params = MlParams(allow_short=True, train_fraction=0.5)
    positions = ml.positions(eurusd, params)
    labelled = len(eurusd) - 1 - ml.FEATURE_LOOKBACK
    last_train_row = ml.FEATURE_LOOKBACK + int(labelled * 0.5) - 1
    assert not positions[: last_train_row + 1].any()  # flat while training
    assert set(np.unique(positions[last_train_row + 1 :])) <= {-1.0, 0.0, 1.0}
    assert positions[last_train_row + 1 :].any()
    # Prices after bar k cannot change a position decided at bar k.
    k = last_train_row + 100
    changed = eurusd.close.copy()
    changed[k + 1 :] *= 1.5
    altered = Candles(**{**eurusd.__dict__, "close": changed})
    np.testing.assert_array_equal(ml.positions(altered, params)[: k + 1], positions[: k + 1])
    assert ml.min_backtest_candles(params) <= len(eurusd)
    with pytest.raises(ml.NotEnoughHistory):
        ml.positions(_head(eurusd, ml.min_backtest_candles(params) - 1), params)
    assert ml.positions(_head(eurusd, ml.min_backtest_candles(params)), params).shape == (
        ml.min_backtest_candles(params),
    )
