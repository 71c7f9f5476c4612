"""Candles read from database-service's market API, as numpy arrays.

Fetching happens on the event loop (it is I/O); decoding the JSON into arrays happens in the
CPU pool (`parse_candles`): 100,000 candles take tens of milliseconds to decode.
"""

from dataclasses import dataclass
from typing import Literal

import httpx
import numpy as np
import orjson

from servicekit.http import ServiceClient

Interval = Literal["1m", "5m", "1h", "1d"]
SYMBOL_PATTERN = r"^[A-Z0-9._-]{1,16}$"


class MarketDataUnavailable(Exception):
    """database-service could not be reached or answered something unexpected."""


class NoCandles(Exception):
    """No candles are stored for this symbol and interval."""


@dataclass(frozen=True)
class Candles:
    """One symbol's candles at one interval, ascending by start; float64 arrays of equal length."""

    symbol: str
    interval: str
    start_ms: np.ndarray  # int64
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray

    def __len__(self) -> int:
        return len(self.start_ms)


def candles_from_rows(symbol: str, interval: str, rows: list[dict]) -> Candles:
    """Arrays from the candle objects of the market API (ascending by start_ms)."""

    def column(name: str, dtype: type) -> np.ndarray:
        return np.fromiter((row[name] for row in rows), dtype=dtype, count=len(rows))

    return Candles(
        symbol=symbol,
        interval=interval,
        start_ms=column("start_ms", np.int64),
        open=column("open", np.float64),
        high=column("high", np.float64),
        low=column("low", np.float64),
        close=column("close", np.float64),
        volume=column("volume", np.float64),
    )


def parse_candles(symbol: str, interval: str, content: bytes) -> Candles:
    """Decode a GET /market/candles answer; raise NoCandles when it holds none."""
    try:
        rows = orjson.loads(content)["candles"]
        candles = candles_from_rows(symbol, interval, rows)
    except (ValueError, KeyError, TypeError) as exc:
        raise MarketDataUnavailable(f"unexpected candles answer: {exc!r}"[:200]) from exc
    if len(candles) == 0:
        raise NoCandles(f"no {interval} candles stored for {symbol}")
    if np.any(np.diff(candles.start_ms) <= 0):
        raise MarketDataUnavailable("candles are not strictly ascending by start_ms")
    return candles


async def fetch_candles(db: ServiceClient, symbol: str, interval: str, limit: int) -> bytes:
    """The raw JSON of the latest `limit` stored candles."""
    params = {"symbol": symbol, "interval": interval, "limit": limit}
    try:
        response = await db.get("/market/candles", params=params)
    except httpx.HTTPError as exc:
        raise MarketDataUnavailable(f"GET /market/candles: {type(exc).__name__}") from exc
    # The contract answers 200 with an empty list when nothing is stored; any other status
    # (a 401 for a wrong token included) means database-service cannot serve us.
    if response.status_code != 200:
        raise MarketDataUnavailable(f"GET /market/candles answered {response.status_code}")
    return response.content
