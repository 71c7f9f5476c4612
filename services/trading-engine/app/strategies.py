"""Rule strategies: target positions from TA-Lib indicators, and every strategy's parameters.

A strategy maps candles to a target position per bar, decided at that bar's close from what
was known then: +1 long, 0 flat, -1 short (only with `allow_short`; otherwise the short state
is flat). The first bars, before the indicators exist, are flat. The same positions drive both
the signal (its change at the last candle) and the backtest.

- sma_cross: long while SMA(fast) > SMA(slow), short/flat while below (a tie keeps the state).
- macd_cross: long while the MACD line is above its signal line, short/flat while below.
- rsi_reversion: enter long when RSI < lower (oversold); leave it, or go short, when
  RSI > upper (overbought); in between keep the state.
- bbands_reversion: enter long when the close is below the lower band, short (if allowed)
  above the upper band; leave when the close crosses the middle band.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import talib
from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.indicators import MAX_PERIOD
from servicekit.market import Candles


class StrategyParams(BaseModel):
    """What every strategy accepts."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    allow_short: bool = False


class SmaCrossParams(StrategyParams):
    fast: int = Field(default=10, ge=2, le=MAX_PERIOD)
    slow: int = Field(default=30, ge=2, le=MAX_PERIOD)

    @model_validator(mode="after")
    def _fast_below_slow(self) -> "SmaCrossParams":
        if self.fast >= self.slow:
            raise ValueError("fast must be smaller than slow")
        return self


class MacdCrossParams(StrategyParams):
    fast: int = Field(default=12, ge=2, le=MAX_PERIOD)
    slow: int = Field(default=26, ge=2, le=MAX_PERIOD)
    signal: int = Field(default=9, ge=1, le=MAX_PERIOD)

    @model_validator(mode="after")
    def _fast_below_slow(self) -> "MacdCrossParams":
        if self.fast >= self.slow:
            raise ValueError("fast must be smaller than slow")
        return self


class RsiReversionParams(StrategyParams):
    period: int = Field(default=14, ge=2, le=MAX_PERIOD)
    lower: float = Field(default=30.0, gt=0, lt=100)
    upper: float = Field(default=70.0, gt=0, lt=100)

    @model_validator(mode="after")
    def _lower_below_upper(self) -> "RsiReversionParams":
        if self.lower >= self.upper:
            raise ValueError("lower must be smaller than upper")
        return self


class BbandsReversionParams(StrategyParams):
    period: int = Field(default=20, ge=2, le=MAX_PERIOD)
    nbdev: float = Field(default=2.0, gt=0, le=10)


class MlParams(StrategyParams):
    """The classifier strategy (see app.ml)."""

    model: Literal["logistic", "forest"] = "logistic"
    # The call is buy when P(up) >= 0.5 + margin, sell when P(up) <= 0.5 - margin.
    margin: float = Field(default=0.05, ge=0, lt=0.5)
    # Share of the labelled history, at its end, held out to measure accuracy.
    test_fraction: float = Field(default=0.2, ge=0.05, le=0.5)
    # Backtests only: share of the bars, at the start, used to train (and traded flat).
    train_fraction: float = Field(default=0.5, ge=0.1, le=0.9)


Indicators = dict[str, np.ndarray]
PositionsFn = Callable[[Candles, StrategyParams], tuple[np.ndarray, Indicators]]


def hold_states(raw: np.ndarray) -> np.ndarray:
    """Carry each decided state (non-NaN) forward over undecided bars; flat before the first."""
    return pd.Series(raw).ffill().fillna(0.0).to_numpy()


def _short(params: StrategyParams) -> float:
    return -1.0 if params.allow_short else 0.0


def sma_cross(candles: Candles, params: SmaCrossParams) -> tuple[np.ndarray, Indicators]:
    fast = talib.SMA(candles.close, timeperiod=params.fast)
    slow = talib.SMA(candles.close, timeperiod=params.slow)
    raw = np.full(len(candles), np.nan)
    raw[fast > slow] = 1.0
    raw[fast < slow] = _short(params)
    return hold_states(raw), {"sma_fast": fast, "sma_slow": slow}


def macd_cross(candles: Candles, params: MacdCrossParams) -> tuple[np.ndarray, Indicators]:
    macd, signal, _ = talib.MACD(
        candles.close, fastperiod=params.fast, slowperiod=params.slow, signalperiod=params.signal
    )
    raw = np.full(len(candles), np.nan)
    raw[macd > signal] = 1.0
    raw[macd < signal] = _short(params)
    return hold_states(raw), {"macd": macd, "macd_signal": signal}


def rsi_reversion(candles: Candles, params: RsiReversionParams) -> tuple[np.ndarray, Indicators]:
    rsi = talib.RSI(candles.close, timeperiod=params.period)
    raw = np.full(len(candles), np.nan)
    raw[rsi < params.lower] = 1.0
    raw[rsi > params.upper] = _short(params)
    return hold_states(raw), {"rsi": rsi}


def bbands_reversion(
    candles: Candles, params: BbandsReversionParams
) -> tuple[np.ndarray, Indicators]:
    close = candles.close
    upper, middle, lower = talib.BBANDS(
        close,
        timeperiod=params.period,
        nbdevup=params.nbdev,
        nbdevdn=params.nbdev,
        matype=talib.MA_Type.SMA,
    )
    above = close >= middle
    known = ~np.isnan(middle)
    crossed = np.zeros(len(close), dtype=bool)
    crossed[1:] = known[1:] & known[:-1] & (above[1:] != above[:-1])
    raw = np.full(len(close), np.nan)
    # Order matters: an entry beats an exit on the same bar (a cross that lands beyond a band).
    raw[crossed] = 0.0
    raw[close < lower] = 1.0
    raw[close > upper] = _short(params)
    return hold_states(raw), {"bb_upper": upper, "bb_middle": middle, "bb_lower": lower}


def _lookback_sma(p: SmaCrossParams) -> int:
    return p.slow - 1


def _lookback_macd(p: MacdCrossParams) -> int:
    return (p.slow - 1) + (p.signal - 1)


def _lookback_rsi(p: RsiReversionParams) -> int:
    return p.period


def _lookback_bbands(p: BbandsReversionParams) -> int:
    return p.period - 1


@dataclass(frozen=True)
class RuleStrategy:
    """A rule strategy: its parameters, its positions and its indicators' warm-up."""

    name: str
    params_model: type[StrategyParams]
    positions: PositionsFn
    lookback: Callable[[StrategyParams], int]

    def min_candles(self, params: StrategyParams) -> int:
        # The last two bars must both be past the warm-up, or the first real state would read
        # as a fresh buy/sell against the flat warm-up.
        return self.lookback(params) + 2


RULES: dict[str, RuleStrategy] = {
    rule.name: rule
    for rule in (
        RuleStrategy("sma_cross", SmaCrossParams, sma_cross, _lookback_sma),
        RuleStrategy("rsi_reversion", RsiReversionParams, rsi_reversion, _lookback_rsi),
        RuleStrategy("macd_cross", MacdCrossParams, macd_cross, _lookback_macd),
        RuleStrategy("bbands_reversion", BbandsReversionParams, bbands_reversion, _lookback_bbands),
    )
}
STRATEGY_NAMES = (*RULES, "ml")


def params_model(strategy: str) -> type[StrategyParams]:
    """The parameters model of a strategy name (KeyError when unknown)."""
    return MlParams if strategy == "ml" else RULES[strategy].params_model
