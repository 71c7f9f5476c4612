"""Helpers the tests share: symbols, the real price series and candle payloads."""

import functools

import numpy as np
import pandas as pd

import servicekit_testing as testing
from servicekit.market import Candles

INTERVAL_MS = testing.INTERVAL_MS


unique_symbol = functools.partial(testing.unique_symbol, "TE")
closed_port = testing.closed_port
frame_candles = testing.frame_candles


def real_series(name: str) -> pd.DataFrame:
    """A price series shipped by the `backtesting` package: EURUSD (hourly) or GOOG (daily)."""
    frame = pd.read_csv(testing.series_path(name), index_col=0, parse_dates=True)
    frame.index = frame.index.tz_localize("UTC")
    return frame


def close_candles(
    symbol: str, interval: str, closes: list[float], start_ms: int = 1_700_000_000_000
) -> list[dict]:
    """Candles with these closes (each opening at the previous close), one interval apart."""
    step = INTERVAL_MS[interval]
    first = start_ms - start_ms % step
    candles = []
    for i, close in enumerate(closes):
        open_ = closes[i - 1] if i else close
        candles.append(
            {
                "symbol": symbol,
                "interval": interval,
                "start_ms": first + i * step,
                "open": open_,
                "high": max(open_, close),
                "low": min(open_, close),
                "close": close,
                "volume": 1.0,
                "ticks": 1,
            }
        )
    return candles


def frame_to_candles(symbol: str, interval: str, frame: pd.DataFrame) -> Candles:
    """The in-memory Candles of an OHLCV frame (what the service builds from the API)."""
    return Candles(
        symbol=symbol,
        interval=interval,
        start_ms=frame.index.as_unit("ms").asi8.astype(np.int64),
        open=frame.Open.to_numpy(np.float64),
        high=frame.High.to_numpy(np.float64),
        low=frame.Low.to_numpy(np.float64),
        close=frame.Close.to_numpy(np.float64),
        volume=frame.Volume.to_numpy(np.float64),
        ticks=np.ones(len(frame), dtype=np.int64),
    )


def closes_to_candles(closes: list[float], interval: str = "1h") -> Candles:
    """In-memory Candles with these closes (as close_candles makes them)."""
    rows = close_candles("UNIT", interval, closes)
    return Candles(
        symbol="UNIT",
        interval=interval,
        start_ms=np.array([r["start_ms"] for r in rows], dtype=np.int64),
        open=np.array([r["open"] for r in rows]),
        high=np.array([r["high"] for r in rows]),
        low=np.array([r["low"] for r in rows]),
        close=np.array([r["close"] for r in rows]),
        volume=np.ones(len(rows)),
        ticks=np.ones(len(rows), dtype=np.int64),
    )
