"""The feature schema: warm-up, no look-ahead, and values checked by hand on real candles."""

import numpy as np
import pytest

from app import features
from servicekit.market import Candles
from tests.utils import frame_to_candles, real_series


@pytest.fixture(scope="module")
def eurusd_candles() -> Candles:
    return frame_to_candles("EURUSD", "1h", real_series("EURUSD"))


def head(candles: Candles, n: int) -> Candles:
    fields = ("start_ms", "open", "high", "low", "close", "volume", "ticks")
    return Candles(candles.symbol, candles.interval, **{f: getattr(candles, f)[:n] for f in fields})


def test_schema_is_ordered_and_unique() -> None:
    assert len(features.FEATURES) == len(set(features.FEATURES)) == 16
    assert features.FEATURES[:6] == ("ret_1", "ret_2", "ret_3", "ret_5", "ret_10", "ret_20")


def test_warm_up_rows_are_nan_then_every_feature_is_defined(eurusd_candles: Candles) -> None:
    table = features.build(eurusd_candles)
    assert table.shape == (len(eurusd_candles), len(features.FEATURES))
    assert np.isnan(table[: features.LOOKBACK]).any(axis=1).all()
    assert not np.isnan(table[features.LOOKBACK :]).any()


def test_features_never_look_ahead(eurusd_candles: Candles) -> None:
    """Bar t's features are the same whether or not later candles exist."""
    full = features.build(eurusd_candles)
    for n in (features.LOOKBACK + 1, 300, 1234):
        np.testing.assert_array_equal(features.build(head(eurusd_candles, n)), full[:n])


def test_values_match_their_definitions(eurusd_candles: Candles) -> None:
    table = features.build(eurusd_candles)
    c = eurusd_candles
    t = 500
    column = {name: table[t, i] for i, name in enumerate(features.FEATURES)}
    log_returns = np.diff(np.log(c.close))
    assert column["ret_1"] == pytest.approx(np.log(c.close[t] / c.close[t - 1]))
    assert column["ret_20"] == pytest.approx(np.log(c.close[t] / c.close[t - 20]))
    assert column["vol_20"] == pytest.approx(np.std(log_returns[t - 20 : t]))
    moves = np.diff(c.close[t - 14 : t + 1])
    gains, losses = moves[moves > 0].sum(), -moves[moves < 0].sum()
    assert column["rsi_14"] == pytest.approx(gains / (gains + losses))
    assert column["mom_10"] == pytest.approx(c.close[t] / c.close[t - 9 : t + 1].mean() - 1)
    assert column["range_rel"] == pytest.approx((c.high[t] - c.low[t]) / c.close[t])
    assert column["close_pos"] == pytest.approx((c.close[t] - c.low[t]) / (c.high[t] - c.low[t]))
    previous = c.close[t - 14 : t]
    true_range = np.maximum(
        c.high[t - 13 : t + 1] - c.low[t - 13 : t + 1],
        np.maximum(
            np.abs(c.high[t - 13 : t + 1] - previous), np.abs(c.low[t - 13 : t + 1] - previous)
        ),
    )
    assert column["atr_14"] == pytest.approx(true_range.mean() / c.close[t])


def test_flat_prices_are_defined_and_neutral() -> None:
    n = 40
    flat = Candles(
        "FLAT",
        "1h",
        start_ms=np.arange(n, dtype=np.int64) * 3_600_000,
        open=np.ones(n),
        high=np.ones(n),
        low=np.ones(n),
        close=np.ones(n),
        volume=np.zeros(n),
        ticks=np.ones(n, dtype=np.int64),
    )
    table = features.build(flat)
    row = dict(zip(features.FEATURES, table[-1], strict=True))
    assert row["rsi_14"] == 0.5 and row["close_pos"] == 0.5
    assert row["ret_1"] == 0.0 and row["vol_20"] == 0.0 and row["volume_rel_20"] == 0.0


def test_labels_say_whether_the_next_close_is_higher() -> None:
    closes = np.array([1.0, 2.0, 2.0, 1.0, 3.0])
    candles = Candles(
        "L", "1h", np.arange(5, dtype=np.int64), *(closes,) * 4, np.ones(5), np.ones(5, np.int64)
    )
    np.testing.assert_array_equal(features.labels(candles)[:-1], [1.0, 0.0, 0.0, 1.0])
    assert np.isnan(features.labels(candles)[-1])
