"""Indicators on arrays: warm-up lengths, JSON nulls and parameter checks."""

import math

import numpy as np
import pytest
from pydantic import ValidationError

from app import indicators
from app.core import jsonio
from app.indicators import INDICATOR_NAMES, IndicatorParams
from tests.utils import frame_to_candles, real_series

PARAMS = [
    IndicatorParams(),
    IndicatorParams(
        sma_period=7,
        ema_period=50,
        rsi_period=3,
        macd_fast=5,
        macd_slow=35,
        macd_signal=4,
        bbands_period=10,
        bbands_nbdev=1.5,
        atr_period=1,
    ),
]


def _arrays(value) -> list[np.ndarray]:
    return list(value.values()) if isinstance(value, dict) else [value]


@pytest.mark.parametrize("params", PARAMS)
def test_lookback_is_the_warm_up_talib_produces(params: IndicatorParams) -> None:
    candles = frame_to_candles("GOOG", "1d", real_series("GOOG").iloc[:300])
    computed = indicators.compute(candles, INDICATOR_NAMES, params)
    for name in INDICATOR_NAMES:
        lookback = indicators.lookback(name, params)
        for values in _arrays(computed[name]):
            assert np.isnan(values[:lookback]).all(), name
            assert not np.isnan(values[lookback:]).any(), name
    assert indicators.min_candles(["sma", "macd"], PARAMS[0]) == 34  # MACD: 25 + 8 + 1


def test_just_enough_candles_give_one_value_each() -> None:
    params = IndicatorParams()
    needed = indicators.min_candles(INDICATOR_NAMES, params)
    candles = frame_to_candles("GOOG", "1d", real_series("GOOG").iloc[:needed])
    computed = indicators.compute(candles, INDICATOR_NAMES, params)
    assert not math.isnan(computed["macd"]["hist"][-1])
    assert np.isnan(computed["macd"]["hist"][-2])


def test_bollinger_bands_are_symmetric_around_the_sma() -> None:
    candles = frame_to_candles("EURUSD", "1h", real_series("EURUSD").iloc[:200])
    bands = indicators.compute(candles, ["bbands", "sma"], IndicatorParams())
    upper, middle, lower = (
        bands["bbands"]["upper"],
        bands["bbands"]["middle"],
        bands["bbands"]["lower"],
    )
    np.testing.assert_allclose(upper - middle, middle - lower, rtol=1e-9)
    np.testing.assert_array_equal(middle, bands["sma"])


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"macd_fast": 26, "macd_slow": 12}, "macd_fast must be smaller than macd_slow"),
        ({"sma_period": 1}, "greater than or equal to 2"),
        ({"rsi_period": 5000}, "less than or equal to 1000"),
        ({"bbands_nbdev": 0}, "greater than 0"),
    ],
)
def test_bad_parameters(values: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        IndicatorParams(**values)


def test_json_writes_warm_up_as_null_and_floats_exactly() -> None:
    values = np.array([np.nan, 0.1 + 0.2, np.inf, 1.0715659999999998])
    assert (
        jsonio.dumps({"v": values}) == b'{"v":[null,0.30000000000000004,null,1.0715659999999998]}'
    )
    assert jsonio.loads(jsonio.dumps(values))[1] == 0.1 + 0.2
