"""The candle builder against pandas' resample, fed in chunks, with late ticks."""

import random

import numpy as np
import orjson
import pandas as pd
import pytest

from app.core.candles import INTERVALS, CandleBuilder

RULES = {"1m": "1min", "5m": "5min", "1h": "1h", "1d": "1D"}
TOLERANCE = 30_000


def random_ticks(count: int, seed: int) -> list[tuple[int, float, float]]:
    """Ticks mostly in order, some late by less than the tolerance."""
    rng = random.Random(seed)
    ts, ticks = 1_700_000_000_000, []
    for _ in range(count):
        ts += rng.randint(0, 20_000)
        late = rng.randint(0, TOLERANCE) if rng.random() < 0.1 else 0
        ticks.append((ts - late, round(rng.uniform(90, 110), 4), float(rng.randint(0, 50))))
    return ticks


def reference(ticks: list[tuple[int, float, float]], interval: str) -> pd.DataFrame:
    frame = pd.DataFrame(ticks, columns=["ts", "price", "volume"]).sort_values("ts", kind="stable")
    frame.index = pd.to_datetime(frame["ts"], unit="ms", utc=True)
    out = frame["price"].resample(RULES[interval]).ohlc()
    out["volume"] = frame["volume"].resample(RULES[interval]).sum()
    out["ticks"] = frame["price"].resample(RULES[interval]).count()
    out = out[out["ticks"] > 0]
    out.index = out.index.as_unit("ms").asi8
    return out


@pytest.mark.parametrize("chunk", [9, 250])
def test_candles_equal_pandas_resample(chunk: int) -> None:
    ticks = random_ticks(1500, seed=chunk)
    builder = CandleBuilder(TOLERANCE)
    latest: dict[tuple[str, int], dict] = {}
    for start in range(0, len(ticks), chunk):
        for ts, price, volume in ticks[start : start + chunk]:
            builder.add("ABC", ts, price, volume)
        for candle in builder.flush():
            latest[(candle.interval, candle.start_ms)] = candle.record()
    for interval in INTERVALS:
        expected = reference(ticks, interval)
        got = {start: c for (name, start), c in latest.items() if name == interval}
        assert sorted(got) == expected.index.tolist()
        for start, row in expected.iterrows():
            candle = got[start]
            assert (candle["open"], candle["high"], candle["low"], candle["close"]) == (
                row["open"],
                row["high"],
                row["low"],
                row["close"],
            )
            assert candle["volume"] == pytest.approx(row["volume"])
            assert candle["ticks"] == row["ticks"]


def test_windows_close_and_memory_stays_bounded() -> None:
    builder = CandleBuilder(tolerance_ms=0, intervals=("1m",))
    closed = []
    for minute in range(150):
        builder.add("ABC", minute * 60_000 + 5, 1.0 + minute, 1.0)
        closed += [c for c in builder.flush() if c.closed]
        assert builder.open_windows() <= 2
    assert [c.start_ms for c in closed] == [m * 60_000 for m in range(149)]
    assert all(c.ticks == 1 for c in closed)


def test_symbols_are_kept_apart_and_records_serialize() -> None:
    builder = CandleBuilder(TOLERANCE, intervals=("1h",))
    builder.add("AAA", 0, 1.0, 1.0)
    builder.add("BBB", 10, 5.0, 2.0)
    builder.add("AAA", 20, 3.0, 1.0)
    candles = {c.symbol: c.record() for c in builder.flush()}
    assert candles["AAA"]["close"] == 3.0 and candles["AAA"]["ticks"] == 2
    assert candles["BBB"]["open"] == 5.0
    decoded = orjson.loads(orjson.dumps(list(candles.values())))
    assert decoded[0]["start_ms"] == 0
    assert isinstance(np.float64(1).item(), float)
