"""Closes read from database-service's market API (GET /market/candles), as numpy arrays.

Fetching happens on the event loop (it is I/O); decoding the JSON happens in the CPU pool
(`parse_closes`), since 20,000 candles take tens of milliseconds to decode.
"""

from dataclasses import dataclass
from typing import Literal

import httpx
import numpy as np
import orjson

from servicekit.http import ServiceClient

Interval = Literal["1m", "5m", "1h", "1d"]
SYMBOL_PATTERN = r"^[A-Z0-9._-]{1,16}$"
INTERVAL_MS = {"1m": 60_000, "5m": 300_000, "1h": 3_600_000, "1d": 86_400_000}


class MarketDataUnavailable(Exception):
    """database-service could not be reached or answered something unexpected."""


class NoCandles(Exception):
    """No candles are stored for this symbol and interval."""


class NotEnoughCandles(Exception):
    """Fewer candles are stored than the computation needs."""


@dataclass(frozen=True)
class Closes:
    """One symbol's closes at one interval, ascending by candle start."""

    symbol: str
    interval: str
    start_ms: np.ndarray  # int64
    close: np.ndarray  # float64

    def __len__(self) -> int:
        return len(self.start_ms)


def require(closes: Closes, needed: int, what: str) -> None:
    """Raise NotEnoughCandles, saying who needs how many, when `closes` is shorter."""
    if len(closes) < needed:
        raise NotEnoughCandles(
            f"{what} needs at least {needed} candles; {len(closes)} {closes.interval} candles "
            f"of {closes.symbol} are stored"
        )


def parse_closes(symbol: str, interval: str, content: bytes) -> Closes:
    """Decode a GET /market/candles answer; raise NoCandles when it holds none."""
    try:
        rows = orjson.loads(content)["candles"]
        start_ms = np.fromiter((r["start_ms"] for r in rows), dtype=np.int64, count=len(rows))
        close = np.fromiter((r["close"] for r in rows), dtype=np.float64, count=len(rows))
    except (ValueError, KeyError, TypeError) as exc:
        raise MarketDataUnavailable(f"unexpected candles answer: {exc!r}"[:200]) from exc
    if len(rows) == 0:
        raise NoCandles(f"no {interval} candles stored for {symbol}")
    if np.any(np.diff(start_ms) <= 0):
        raise MarketDataUnavailable("candles are not strictly ascending by start_ms")
    if not np.all(np.isfinite(close) & (close > 0)):
        raise MarketDataUnavailable(f"stored closes of {symbol} {interval} are not all positive")
    return Closes(symbol, interval, start_ms, close)


async def fetch_candles(db: ServiceClient, symbol: str, interval: str, limit: int) -> bytes:
    """The raw JSON of the latest `limit` stored candles."""
    params = {"symbol": symbol, "interval": interval, "limit": limit}
    try:
        response = await db.get("/market/candles", params=params)
    except httpx.HTTPError as exc:
        raise MarketDataUnavailable(f"GET /market/candles: {type(exc).__name__}") from exc
    # The contract answers 200 with an empty list when nothing is stored; any other status
    # (a 401 for a wrong token included) means it cannot serve us.
    if response.status_code != 200:
        raise MarketDataUnavailable(f"GET /market/candles answered {response.status_code}")
    return response.content
