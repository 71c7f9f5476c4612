"""Candles read from database-service's market API, as numpy arrays.

Fetching happens on the event loop (it is I/O); turning the JSON into arrays happens in the
CPU pool (`parse_candles`), since 20,000 candles take tens of milliseconds to decode.
"""

from dataclasses import dataclass
from typing import Literal

import httpx
import numpy as np

from app.core import jsonio
from servicekit.http import ServiceClient

Interval = Literal["1m", "5m", "1h", "1d"]
SYMBOL_PATTERN = r"^[A-Z0-9._-]{1,16}$"

# Bars in a year of a market that trades around the clock (365 days): the platform's feeds and
# replays run 24/7. A daily stock series has about 252; backtests may say so (`bars_per_year`).
BARS_PER_YEAR: dict[str, float] = {
    "1m": 365 * 24 * 60,
    "5m": 365 * 24 * 12,
    "1h": 365 * 24,
    "1d": 365,
}


class MarketDataUnavailable(Exception):
    """database-service could not be reached or answered something unexpected."""


class NoCandles(Exception):
    """No candles are stored for this symbol and interval."""


class NotEnoughCandles(Exception):
    """Fewer candles are stored (or asked for) than the computation needs."""


def require_candles(candles: "Candles", needed: int, what: str) -> None:
    """Raise NotEnoughCandles, saying who needs how many, when `candles` is shorter."""
    if len(candles) < needed:
        raise NotEnoughCandles(
            f"{what} needs at least {needed} candles; {len(candles)} {candles.interval} "
            f"candles of {candles.symbol} were available"
        )


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
    ticks: np.ndarray  # int64

    def __len__(self) -> int:
        return len(self.start_ms)

    @property
    def last_start_ms(self) -> int:
        return int(self.start_ms[-1])


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
        ticks=column("ticks", np.int64),
    )


def parse_candles(symbol: str, interval: str, content: bytes) -> Candles:
    """Decode a GET /market/candles answer; raise NoCandles when it holds none."""
    try:
        rows = jsonio.loads(content)["candles"]
        candles = candles_from_rows(symbol, interval, rows)
    except (ValueError, KeyError, TypeError) as exc:
        raise MarketDataUnavailable(f"unexpected candles answer: {exc!r}"[:200]) from exc
    if len(candles) == 0:
        raise NoCandles(f"no {interval} candles stored for {symbol}")
    if np.any(np.diff(candles.start_ms) <= 0):
        raise MarketDataUnavailable("candles are not strictly ascending by start_ms")
    return candles


async def fetch_candles(
    db: ServiceClient,
    symbol: str,
    interval: str,
    limit: int,
    start_ms: int | None = None,
    end_ms: int | None = None,
) -> bytes:
    """The raw JSON of the latest `limit` candles with start_ms <= start < end_ms."""
    params: dict[str, str | int] = {"symbol": symbol, "interval": interval, "limit": limit}
    if start_ms is not None:
        params["start_ms"] = start_ms
    if end_ms is not None:
        params["end_ms"] = end_ms
    try:
        response = await db.get("/market/candles", params=params)
    except httpx.HTTPError as exc:
        raise MarketDataUnavailable(f"GET /market/candles: {type(exc).__name__}") from exc
    # The contract answers 200 with an empty list when nothing is stored; any other status
    # (a 404 included: a database-service without the market API) means it cannot serve us.
    if response.status_code != 200:
        raise MarketDataUnavailable(f"GET /market/candles answered {response.status_code}")
    return response.content
