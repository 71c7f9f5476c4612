"""Rule strategies: hand-made cases, and the vectorised positions against plain loops."""

import math

import numpy as np
import pytest
import talib
from pydantic import ValidationError

from app import strategies
from app.strategies import (
    RULES,
    BbandsReversionParams,
    MacdCrossParams,
    RsiReversionParams,
    SmaCrossParams,
)
from tests.utils import closes_to_candles, frame_to_candles, real_series


@pytest.fixture(scope="module")
def goog():
    return frame_to_candles("GOOG", "1d", real_series("GOOG"))


def test_sma_cross_by_hand() -> None:
    closes = [1.0, 2.0, 3.0, 2.0, 1.0, 1.0, 2.0, 4.0]
    # SMA(2): -, 1.5, 2.5, 2.5, 1.5, 1.0, 1.5, 3.0
    # SMA(3): -, -, 2.0, 2.33, 2.0, 1.33, 1.33, 2.33
    # fast > slow at bars 2 (2.5 > 2) and 3 (2.5 > 2.33); below at 4 and 5; above at 6 and 7.
    candles = closes_to_candles(closes)
    positions, indicators = strategies.sma_cross(candles, SmaCrossParams(fast=2, slow=3))
    assert positions.tolist() == [0, 0, 1, 1, 0, 0, 1, 1]
    shorting = SmaCrossParams(fast=2, slow=3, allow_short=True)
    assert strategies.sma_cross(candles, shorting)[0].tolist() == [0, 0, 1, 1, -1, -1, 1, 1]
    assert indicators["sma_fast"][3] == pytest.approx(2.5)


def test_hold_states_keeps_the_last_decision() -> None:
    raw = np.array([np.nan, np.nan, 1.0, np.nan, 0.0, np.nan, -1.0, np.nan])
    assert strategies.hold_states(raw).tolist() == [0, 0, 1, 1, 0, 0, -1, -1]


def _states(enter_long, enter_short, exit_, short: bool) -> list[float]:
    """The reference: walk the bars one by one, as a trader would."""
    state, out = 0.0, []
    for long_now, short_now, exit_now in zip(enter_long, enter_short, exit_, strict=True):
        if exit_now:
            state = 0.0
        if long_now:
            state = 1.0
        elif short_now:
            state = -1.0 if short else 0.0
        out.append(state)
    return out


@pytest.mark.parametrize("short", [False, True])
def test_rules_match_a_bar_by_bar_walk(goog, short: bool) -> None:
    close = goog.close
    nan_false = np.zeros(len(close), dtype=bool)

    fast, slow = talib.SMA(close, 10), talib.SMA(close, 30)
    expected = _states(fast > slow, fast < slow, nan_false, short)
    params = SmaCrossParams(allow_short=short)
    assert strategies.sma_cross(goog, params)[0].tolist() == expected

    macd, signal, _ = talib.MACD(close, 12, 26, 9)
    expected = _states(macd > signal, macd < signal, nan_false, short)
    params = MacdCrossParams(allow_short=short)
    assert strategies.macd_cross(goog, params)[0].tolist() == expected

    rsi = talib.RSI(close, 14)
    expected = _states(rsi < 30, rsi > 70, nan_false, short)
    params = RsiReversionParams(allow_short=short)
    assert strategies.rsi_reversion(goog, params)[0].tolist() == expected

    upper, middle, lower = talib.BBANDS(close, 20, 2.0, 2.0)
    crossed = [
        i > 0
        and not math.isnan(middle[i - 1])
        and (close[i] >= middle[i]) != (close[i - 1] >= middle[i - 1])
        for i in range(len(close))
    ]
    expected = _states(close < lower, close > upper, crossed, short)
    params = BbandsReversionParams(allow_short=short)
    assert strategies.bbands_reversion(goog, params)[0].tolist() == expected


def test_every_rule_trades_on_real_prices(goog) -> None:
    for rule in RULES.values():
        positions, _ = rule.positions(goog, rule.params_model(allow_short=True))
        assert set(np.unique(positions)) == {-1.0, 0.0, 1.0}, rule.name
        # Flat until the indicators exist.
        assert not positions[: rule.lookback(rule.params_model())].any(), rule.name


@pytest.mark.parametrize(
    ("model", "values", "message"),
    [
        (SmaCrossParams, {"fast": 30, "slow": 10}, "fast must be smaller than slow"),
        (MacdCrossParams, {"fast": 26, "slow": 26}, "fast must be smaller than slow"),
        (RsiReversionParams, {"lower": 70, "upper": 30}, "lower must be smaller than upper"),
        (BbandsReversionParams, {"nbdev": 0}, "greater than 0"),
        (SmaCrossParams, {"period": 3}, "Extra inputs are not permitted"),
    ],
)
def test_bad_parameters(model, values: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        model(**values)
