"""Technical indicators through TA-Lib, with their parameters and warm-up lengths.

Every indicator is TA-Lib's own function on float64 arrays; nothing is re-implemented here, so
the values equal what `talib.SMA(...)` and friends give on the same series. The first
`lookback` values of each output are NaN (TA-Lib's warm-up); the API sends them as null
(app.core.jsonio).
"""

from collections.abc import Iterable

import numpy as np
import talib
from pydantic import BaseModel, ConfigDict, Field, model_validator
from talib import abstract

from servicekit.market import Candles

INDICATOR_NAMES = ("sma", "ema", "rsi", "macd", "bbands", "atr")

# Period bounds: TA-Lib accepts 2..100,000, but a period longer than any request's candles
# (MAX_CANDLES) could never produce a value.
MAX_PERIOD = 1_000


class IndicatorParams(BaseModel):
    """The periods of every indicator (query parameters of GET /indicators)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sma_period: int = Field(default=20, ge=2, le=MAX_PERIOD)
    ema_period: int = Field(default=20, ge=2, le=MAX_PERIOD)
    rsi_period: int = Field(default=14, ge=2, le=MAX_PERIOD)
    macd_fast: int = Field(default=12, ge=2, le=MAX_PERIOD)
    macd_slow: int = Field(default=26, ge=2, le=MAX_PERIOD)
    macd_signal: int = Field(default=9, ge=1, le=MAX_PERIOD)
    bbands_period: int = Field(default=20, ge=2, le=MAX_PERIOD)
    bbands_nbdev: float = Field(default=2.0, gt=0, le=10)
    atr_period: int = Field(default=14, ge=1, le=MAX_PERIOD)

    @model_validator(mode="after")
    def _fast_below_slow(self) -> "IndicatorParams":
        # TA-Lib silently swaps a fast period above the slow one; a caller who wrote that
        # made a mistake, so say so instead.
        if self.macd_fast >= self.macd_slow:
            raise ValueError("macd_fast must be smaller than macd_slow")
        return self

    def of(self, name: str) -> dict[str, float]:
        """The parameters of one indicator, as the API reports them."""
        p = self
        return {
            "sma": {"period": p.sma_period},
            "ema": {"period": p.ema_period},
            "rsi": {"period": p.rsi_period},
            "macd": {"fast": p.macd_fast, "slow": p.macd_slow, "signal": p.macd_signal},
            "bbands": {"period": p.bbands_period, "nbdev": p.bbands_nbdev},
            "atr": {"period": p.atr_period},
        }[name]


def _talib_parameters(name: str, params: IndicatorParams) -> tuple[str, dict[str, float]]:
    p = params
    return {
        "sma": ("SMA", {"timeperiod": p.sma_period}),
        "ema": ("EMA", {"timeperiod": p.ema_period}),
        "rsi": ("RSI", {"timeperiod": p.rsi_period}),
        "macd": (
            "MACD",
            {"fastperiod": p.macd_fast, "slowperiod": p.macd_slow, "signalperiod": p.macd_signal},
        ),
        "bbands": (
            "BBANDS",
            {"timeperiod": p.bbands_period, "nbdevup": p.bbands_nbdev, "nbdevdn": p.bbands_nbdev},
        ),
        "atr": ("ATR", {"timeperiod": p.atr_period}),
    }[name]


def lookback(name: str, params: IndicatorParams) -> int:
    """How many leading values of the indicator are warm-up (NaN), as TA-Lib itself says."""
    function_name, talib_params = _talib_parameters(name, params)
    function = abstract.Function(function_name)
    function.parameters = talib_params
    return int(function.lookback)


def min_candles(names: Iterable[str], params: IndicatorParams) -> int:
    """Candles needed for every named indicator to have at least one value."""
    return max(lookback(name, params) for name in names) + 1


def compute(
    candles: Candles, names: Iterable[str], params: IndicatorParams
) -> dict[str, np.ndarray | dict[str, np.ndarray]]:
    """The named indicators on these candles: one array, or a dict of arrays per indicator."""
    p = params
    close, high, low = candles.close, candles.high, candles.low
    out: dict[str, np.ndarray | dict[str, np.ndarray]] = {}
    for name in names:
        if name == "sma":
            out[name] = talib.SMA(close, timeperiod=p.sma_period)
        elif name == "ema":
            out[name] = talib.EMA(close, timeperiod=p.ema_period)
        elif name == "rsi":
            out[name] = talib.RSI(close, timeperiod=p.rsi_period)
        elif name == "macd":
            macd, signal, hist = talib.MACD(
                close, fastperiod=p.macd_fast, slowperiod=p.macd_slow, signalperiod=p.macd_signal
            )
            out[name] = {"macd": macd, "signal": signal, "hist": hist}
        elif name == "bbands":
            upper, middle, lower = talib.BBANDS(
                close,
                timeperiod=p.bbands_period,
                nbdevup=p.bbands_nbdev,
                nbdevdn=p.bbands_nbdev,
                matype=talib.MA_Type.SMA,
            )
            out[name] = {"upper": upper, "middle": middle, "lower": lower}
        elif name == "atr":
            out[name] = talib.ATR(high, low, close, timeperiod=p.atr_period)
        else:
            raise ValueError(f"unknown indicator {name!r}")
    return out
