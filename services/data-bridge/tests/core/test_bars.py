"""Bars to ticks: candles rebuilt from the ticks reproduce the source bars exactly."""

import numpy as np
import pandas as pd

from app.core.bars import TICKS_PER_BAR, price_paths, series_ticks, tick_times, volume_parts
from app.core.series import load


def resample(times: np.ndarray, prices: np.ndarray, volumes: np.ndarray, rule: str):
    """Independent rebuild with pandas' own resample (empty windows dropped)."""
    frame = pd.DataFrame(
        {"price": prices, "volume": volumes}, index=pd.to_datetime(times, unit="ms", utc=True)
    )
    candles = frame["price"].resample(rule).ohlc()
    candles["volume"] = frame["volume"].resample(rule).sum()
    candles["ticks"] = frame["price"].resample(rule).count()
    return candles[candles["ticks"] > 0]


def test_hourly_candles_from_eurusd_ticks_are_the_source_bars() -> None:
    series = load("EURUSD")
    times, prices, volumes = series_ticks(series)
    candles = resample(times, prices, volumes, "1h")
    assert len(candles) == len(series) == 5000
    assert (candles.index.as_unit("ms").asi8 == series.start_ms).all()
    # Exact equality, not approximate: the ticks carry the bars' own prices.
    assert (candles["open"].to_numpy() == series.open).all()
    assert (candles["high"].to_numpy() == series.high).all()
    assert (candles["low"].to_numpy() == series.low).all()
    assert (candles["close"].to_numpy() == series.close).all()
    assert (candles["volume"].to_numpy() == series.volume).all()
    assert (candles["ticks"] == TICKS_PER_BAR).all()


def test_daily_candles_from_goog_ticks_are_the_source_bars() -> None:
    series = load("GOOG")
    candles = resample(*series_ticks(series), "1D")
    assert len(candles) == len(series)
    assert (candles["open"].to_numpy() == series.open).all()
    assert (candles["high"].to_numpy() == series.high).all()
    assert (candles["low"].to_numpy() == series.low).all()
    assert (candles["close"].to_numpy() == series.close).all()
    assert (candles["volume"].to_numpy() == series.volume).all()


def test_price_path_visits_the_nearer_extreme_first() -> None:
    paths = price_paths(
        np.array([10.0, 10.0]), np.array([12.0, 12.0]), np.array([9.0, 9.0]), np.array([11, 9.5])
    )
    assert paths.tolist() == [[10, 9, 12, 11], [10, 12, 9, 9.5]]


def test_ticks_stay_inside_their_bar_in_order() -> None:
    starts = np.array([0, 3_600_000], dtype=np.int64)
    spans = np.array([3_600_000, 3_600_000], dtype=np.int64)
    times = tick_times(starts, spans)
    assert times.tolist() == [
        [0, 900_000, 1_800_000, 2_700_000],
        [3_600_000, 4_500_000, 5_400_000, 6_300_000],
    ]


def test_volume_parts_add_up() -> None:
    volumes = np.array([1413.0, 7.0, 0.0, 2012.25343589, 0.3])
    parts = volume_parts(volumes)
    assert parts[0].tolist() == [353, 353, 353, 354]
    assert parts[1].tolist() == [1, 1, 1, 4]
    assert (parts >= 0).all()
    assert parts.sum(axis=1)[:3].tolist() == [1413, 7, 0]
    assert np.allclose(parts.sum(axis=1), volumes, rtol=1e-15, atol=0)


def test_limit_takes_the_first_bars() -> None:
    times, prices, _ = series_ticks(load("GOOG"), limit=3)
    assert len(times) == 12
    assert prices[0] == 100  # GOOG opened at 100 on 2004-08-19
