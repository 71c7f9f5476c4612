"""Candles and the read side of market data in ClickHouse (tick batches: batches.py)."""

import time

from app.core.clickhouse import ClickHouse
from app.market import sql
from app.market.models import CandleCreate, CandleSeries, SymbolSummary

UINT64_MAX = 2**64 - 1


_last_version = 0


def _next_version() -> int:
    """A candle version: the wall clock in ns, strictly increasing within this process."""
    global _last_version
    _last_version = max(time.time_ns(), _last_version + 1)
    return _last_version


async def upsert_candles(clickhouse: ClickHouse, candles: list[CandleCreate]) -> int:
    """Write the candles, each replacing any stored one with its key; returns how many."""
    # Within one request the last candle of a key wins, as a later request's would: one version
    # for the whole insert, so duplicates are dropped here rather than left to a tie.
    latest = list({c.key(): c for c in candles}.values())
    if not latest:
        return 0
    version = _next_version()
    columns = [
        [c.symbol for c in latest],
        [c.interval for c in latest],
        [c.start_ms for c in latest],
        [c.open for c in latest],
        [c.high for c in latest],
        [c.low for c in latest],
        [c.close for c in latest],
        [c.volume for c in latest],
        [c.ticks for c in latest],
        [version] * len(latest),
    ]
    await clickhouse.execute(sql.INSERT_CANDLES, columns, columnar=True)
    return len(latest)


CANDLE_FIELDS = ("start_ms", "open", "high", "low", "close", "volume", "ticks")


async def read_candles(
    clickhouse: ClickHouse,
    symbol: str,
    interval: str,
    start_ms: int | None,
    end_ms: int | None,
    limit: int,
) -> CandleSeries:
    """The latest ``limit`` candles with start_ms <= t < end_ms, ascending."""
    rows = await clickhouse.execute(
        sql.SELECT_CANDLES,
        {
            "symbol": symbol,
            "interval": interval,
            "start_ms": 0 if start_ms is None else start_ms,
            "end_ms": UINT64_MAX if end_ms is None else end_ms,
            "limit": limit,
        },
    )
    # Validated from plain dicts in one call: pydantic's core does that far faster than
    # building 10,000 models one by one in Python.
    candles = [dict(zip(CANDLE_FIELDS, row, strict=True)) for row in rows]
    return CandleSeries.model_validate({"symbol": symbol, "interval": interval, "candles": candles})


async def count_ticks(clickhouse: ClickHouse, symbol: str | None, source: str | None) -> int:
    """Stored ticks, of one symbol and/or one source when given."""
    params = {
        name: value for name, value in (("symbol", symbol), ("source", source)) if value is not None
    }
    rows = await clickhouse.execute(sql.count_ticks(tuple(params)), params)
    return rows[0][0]


async def list_symbols(clickhouse: ClickHouse) -> list[SymbolSummary]:
    """Every symbol with stored ticks, by name."""
    rows = await clickhouse.execute(sql.SYMBOLS)
    return [
        SymbolSummary(symbol=symbol, ticks=ticks, first_ms=first, last_ms=last)
        for symbol, ticks, first, last in rows
    ]
