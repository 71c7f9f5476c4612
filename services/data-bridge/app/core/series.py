"""The real historical price series shipped by the `backtesting` package, read as OHLCV bars.

The CSV files sit in `backtesting/test/`. They are located through the import system's spec
only: importing `backtesting` would import bokeh and its plotting stack, which we never use.
"""

import importlib.util
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

# Series name -> file in backtesting/test/. The name is also the default symbol.
SERIES_FILES = {"GOOG": "GOOG.csv", "EURUSD": "EURUSD.csv", "BTCUSD": "BTCUSD.csv"}


class UnknownSeriesError(KeyError):
    """A series name that is not in SERIES_FILES."""


@dataclass(frozen=True)
class Series:
    """One series' bars as arrays: bar i spans [start_ms[i], start_ms[i] + span_ms[i])."""

    name: str
    path: Path
    start_ms: np.ndarray  # int64
    span_ms: np.ndarray  # int64
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    nominal_ms: int

    def __len__(self) -> int:
        return len(self.start_ms)

    def describe(self) -> dict:
        return {
            "name": self.name,
            "symbol": self.name,
            "bars": len(self),
            "ticks": len(self) * 4,
            "bar_ms": self.nominal_ms,
            "first_ms": int(self.start_ms[0]),
            "last_ms": int(self.start_ms[-1]),
            "file": f"backtesting/test/{self.path.name}",
        }


def data_dir() -> Path:
    """backtesting/test/ of the installed package, found without importing it."""
    spec = importlib.util.find_spec("backtesting")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the backtesting package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "test"


def bar_spans(start_ms: np.ndarray) -> tuple[np.ndarray, int]:
    """Each bar's span and the series' nominal bar length.

    The nominal length is the most common gap between bar starts (1 h for EURUSD, 1 day for
    GOOG). A bar lasts until the next one starts but never longer than that, so a Friday bar
    does not stretch over the weekend; the last bar gets the nominal length.
    """
    gaps = np.diff(start_ms)
    if len(gaps) == 0:
        return np.full(len(start_ms), 86_400_000, dtype=np.int64), 86_400_000
    values, counts = np.unique(gaps[gaps > 0], return_counts=True)
    nominal = int(values[np.argmax(counts)])
    spans = np.minimum(np.append(gaps, nominal), nominal).astype(np.int64)
    return spans, nominal


@cache
def load(name: str) -> Series:
    """Read and check one series (cached: the files are small and never change)."""
    if name not in SERIES_FILES:
        raise UnknownSeriesError(name)
    path = data_dir() / SERIES_FILES[name]
    frame = pd.read_csv(path, index_col=0, parse_dates=True).sort_index()
    frame = frame[~frame.index.duplicated(keep="first")].dropna()
    index = pd.DatetimeIndex(frame.index)
    index = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
    start_ms = index.as_unit("ms").asi8.astype(np.int64)
    spans, nominal = bar_spans(start_ms)
    return Series(
        name=name,
        path=path,
        start_ms=start_ms,
        span_ms=spans,
        open=frame["Open"].to_numpy(dtype=float),
        high=frame["High"].to_numpy(dtype=float),
        low=frame["Low"].to_numpy(dtype=float),
        close=frame["Close"].to_numpy(dtype=float),
        volume=frame["Volume"].to_numpy(dtype=float),
        nominal_ms=nominal,
    )


def available() -> list[dict]:
    """Every series that can be replayed, described."""
    return [load(name).describe() for name in SERIES_FILES]
