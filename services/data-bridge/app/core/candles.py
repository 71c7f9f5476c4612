"""OHLCV candles (1m, 5m, 1h, 1d) built from accepted ticks with pandas.

Ticks are buffered and aggregated in chunks: each flush groups the buffered ticks by symbol
and window start (`ts_ms // interval * interval`, what `DataFrame.resample` computes, but sparse:
resample would materialize every empty minute between two daily bars) and merges each group
into the window's open candle. Open/close follow the ticks' timestamps, not their arrival, so a
late tick inside the tolerance lands where it belongs.

Memory stays bounded: a window is closed (emitted one last time with `closed: true`, then
forgotten) once its symbol's newest tick is past its end by more than the out-of-order
tolerance. The validator refuses any tick older than that, so no accepted tick can ever fall
into a window already forgotten; what stays open is a few windows per symbol and interval.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd

INTERVALS: dict[str, int] = {"1m": 60_000, "5m": 300_000, "1h": 3_600_000, "1d": 86_400_000}


@dataclass(slots=True)
class Candle:
    symbol: str
    interval: str
    start_ms: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    ticks: int
    first_ts: int
    last_ts: int
    closed: bool = False

    def record(self) -> dict:
        """The candle as database-service stores it."""
        return {
            "symbol": self.symbol,
            "interval": self.interval,
            "start_ms": self.start_ms,
            "open": self.open,
            "high": self.high,
            "low": self.low,
            "close": self.close,
            "volume": self.volume,
            "ticks": self.ticks,
        }

    def merge(self, other: "Candle") -> None:
        """Fold a later chunk's aggregate of the same window into this one."""
        if other.first_ts < self.first_ts:
            self.open, self.first_ts = other.open, other.first_ts
        if other.last_ts >= self.last_ts:
            self.close, self.last_ts = other.close, other.last_ts
        self.high = max(self.high, other.high)
        self.low = min(self.low, other.low)
        self.volume += other.volume
        self.ticks += other.ticks


def aggregate(frame: pd.DataFrame, intervals: tuple[str, ...]) -> list[Candle]:
    """Candles of every interval from a frame of symbol/ts/price/volume sorted by symbol, ts.

    The frame is stacked once per interval and grouped in one pass by (interval, symbol, window
    start): one pandas aggregation per flush instead of one per interval, which is what the
    fixed cost of a flush is made of.
    """
    rows = len(frame)
    times = frame["ts"].to_numpy()
    stacked = pd.DataFrame(
        {
            "interval": np.repeat(np.arange(len(intervals)), rows),
            "symbol": np.tile(frame["symbol"].to_numpy(), len(intervals)),
            "start": np.concatenate(
                [times // INTERVALS[name] * INTERVALS[name] for name in intervals]
            ),
            "ts": np.tile(times, len(intervals)),
            "price": np.tile(frame["price"].to_numpy(), len(intervals)),
            "volume": np.tile(frame["volume"].to_numpy(), len(intervals)),
        }
    )
    # Rows keep their order inside a group, so first/last are the earliest/latest ticks.
    grouped = stacked.groupby(["interval", "symbol", "start"], sort=True)
    prices = grouped["price"].agg(["first", "max", "min", "last", "size"])
    volumes = grouped["volume"].sum()
    times_seen = grouped["ts"].agg(["min", "max"])
    index = prices.index
    # tolist() turns numpy scalars into Python ints and floats (what JSON encoders expect).
    columns = [
        [intervals[i] for i in index.get_level_values(0).tolist()],
        index.get_level_values(1).tolist(),
        index.get_level_values(2).tolist(),
        *(prices[name].to_numpy().tolist() for name in ("first", "max", "min", "last")),
        volumes.to_numpy().tolist(),
        prices["size"].to_numpy().tolist(),
        times_seen["min"].to_numpy().tolist(),
        times_seen["max"].to_numpy().tolist(),
    ]
    return [
        Candle(symbol, interval, start, o, h, lo, c, v, n, f, la)
        for interval, symbol, start, o, h, lo, c, v, n, f, la in zip(*columns, strict=True)
    ]


class CandleBuilder:
    """Buffers ticks; `flush` folds them (one pandas aggregation per interval for all symbols)
    and returns every candle that changed."""

    def __init__(self, tolerance_ms: int, intervals: tuple[str, ...] = tuple(INTERVALS)) -> None:
        self.tolerance_ms = tolerance_ms
        self.intervals = intervals
        self._symbols: list[str] = []
        self._times: list[int] = []
        self._prices: list[float] = []
        self._volumes: list[float] = []
        self._open: dict[tuple[str, str], dict[int, Candle]] = {}
        self._newest: dict[str, int] = {}

    @property
    def buffered(self) -> int:
        return len(self._times)

    def add(self, symbol: str, ts_ms: int, price: float, volume: float) -> None:
        self._symbols.append(symbol)
        self._times.append(ts_ms)
        self._prices.append(price)
        self._volumes.append(volume)
        if ts_ms > self._newest.get(symbol, -1):
            self._newest[symbol] = ts_ms

    def open_windows(self) -> int:
        return sum(len(windows) for windows in self._open.values())

    def flush(self) -> list[Candle]:
        """Fold the buffered ticks into their windows; the changed and the closed candles."""
        if not self._times:
            return []
        frame = pd.DataFrame(
            {
                "symbol": self._symbols,
                "ts": np.asarray(self._times, dtype=np.int64),
                "price": np.asarray(self._prices, dtype=float),
                "volume": np.asarray(self._volumes, dtype=float),
            }
        ).sort_values(["symbol", "ts"], kind="stable")
        symbols = set(self._symbols)
        self._symbols, self._times, self._prices, self._volumes = [], [], [], []
        touched: dict[tuple[str, str, int], Candle] = {}
        for chunk in aggregate(frame, self.intervals):
            windows = self._open.setdefault((chunk.symbol, chunk.interval), {})
            current = windows.get(chunk.start_ms)
            if current is None:
                windows[chunk.start_ms] = current = chunk
            else:
                current.merge(chunk)
            touched[(chunk.interval, chunk.symbol, chunk.start_ms)] = current
        for symbol in symbols:
            for interval in self.intervals:
                for candle in self._close(symbol, interval):
                    touched[(interval, symbol, candle.start_ms)] = candle
        return [touched[key] for key in sorted(touched)]

    def _close(self, symbol: str, interval: str) -> list[Candle]:
        """Forget the windows of `symbol` that no accepted tick can reach any more."""
        windows = self._open.get((symbol, interval), {})
        horizon = self._newest[symbol] - self.tolerance_ms - INTERVALS[interval]
        closed = []
        for start in [start for start in windows if start <= horizon]:
            candle = windows.pop(start)
            candle.closed = True
            closed.append(candle)
        return closed
