"""Turning OHLCV bars into ticks, deterministically, so that candles rebuilt from the ticks
over the bars' own interval reproduce every bar's open, high, low, close and volume.

Each bar becomes four ticks at 0, 1/4, 1/2 and 3/4 of its span (all inside the bar): the open,
then the two extremes, then the close. A bar that closes at or above its open visits its low
first (open, low, high, close), one that closes below visits its high first (open, high, low,
close): the path with the smaller detour, which is the usual assumption when only OHLC is known.
The volume is split in four: an integral volume into integers (the close takes the
remainder), so the four parts add up exactly; a fractional one into quarters with the close
taking what is left.
"""

import numpy as np

from app.core.series import Series

TICKS_PER_BAR = 4
_OFFSETS = np.array([0, 1, 2, 3], dtype=np.int64)


def price_paths(
    open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray
) -> np.ndarray:
    """The four prices of each bar, shape (bars, 4)."""
    rising = close >= open_
    second = np.where(rising, low, high)
    third = np.where(rising, high, low)
    return np.stack([open_, second, third, close], axis=1)


def volume_parts(volume: np.ndarray) -> np.ndarray:
    """Each bar's volume in four parts that add up to it, shape (bars, 4)."""
    integral = (volume == np.floor(volume)) & (np.abs(volume) < 2**53)
    whole = np.where(integral, volume, 0).astype(np.int64)
    quarter_int = (whole // 4).astype(float)
    remainder_int = (whole - 3 * (whole // 4)).astype(float)
    quarter_frac = volume / 4
    remainder_frac = volume - 3 * quarter_frac
    quarter = np.where(integral, quarter_int, quarter_frac)
    last = np.where(integral, remainder_int, remainder_frac)
    return np.stack([quarter, quarter, quarter, last], axis=1)


def tick_times(start_ms: np.ndarray, span_ms: np.ndarray) -> np.ndarray:
    """The four timestamps of each bar, shape (bars, 4), strictly inside the bar."""
    return start_ms[:, None] + (span_ms[:, None] * _OFFSETS[None, :]) // TICKS_PER_BAR


def series_ticks(
    series: Series, limit: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ticks of the first `limit` bars (all by default) as flat arrays: ts_ms, price,
    volume, in time order."""
    bars = slice(0, limit)
    times = tick_times(series.start_ms[bars], series.span_ms[bars])
    prices = price_paths(series.open[bars], series.high[bars], series.low[bars], series.close[bars])
    volumes = volume_parts(series.volume[bars])
    return times.ravel(), prices.ravel(), volumes.ravel()
