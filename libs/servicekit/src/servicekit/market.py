"""Candles read from database-service's market API (GET /market/candles), as numpy arrays.

trading-engine, ml-processing and deep-learning compute on stored candles; this is the one
client they share: the request, what its answers mean, the column arrays and the errors (with
the HTTP answers they become, `add_handlers`). Fetching happens on the event loop (it is I/O);
decoding the JSON into arrays belongs in the service's CPU pool (`parse_candles`), since
100,000 candles take tens of milliseconds to decode.

Needs numpy, which every service that imports this module has (servicekit itself does not).
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TypeVar

import httpx
import numpy as np
import orjson
from fastapi import FastAPI, HTTPException, Request, status
from fastapi.responses import JSONResponse
from pydantic import Field, model_validator

from servicekit.app import unavailable
from servicekit.http import ServiceClient
from servicekit.settings import ServiceSettings

log = logging.getLogger("servicekit.market")

T = TypeVar("T")

Interval = Literal["1m", "5m", "1h", "1d"]
SYMBOL_PATTERN = r"^[A-Z0-9._-]{1,16}$"
INTERVAL_MS = {"1m": 60_000, "5m": 300_000, "1h": 3_600_000, "1d": 86_400_000}


class CandleLimitsSettings(ServiceSettings):
    """How many candles one request reads: DEFAULT_CANDLES when it names no limit, at most
    MAX_CANDLES (which bounds its CPU time and the size of its answer). A service may declare
    either again with its own default and bounds; the default never exceeds the maximum."""

    default_candles: int = Field(default=1_000, ge=50)
    max_candles: int = Field(default=20_000, ge=100, le=100_000)

    @model_validator(mode="after")
    def _default_within_max(self) -> "CandleLimitsSettings":
        if self.default_candles > self.max_candles:
            raise ValueError("DEFAULT_CANDLES must not exceed MAX_CANDLES")
        return self


class MarketDataUnavailable(Exception):
    """database-service could not be reached or answered something unexpected."""


class NoCandles(Exception):
    """No candles are stored for this symbol and interval."""


class NotEnoughCandles(Exception):
    """Fewer candles are stored (or asked for) than the computation needs."""


@dataclass(frozen=True)
class Candles:
    """One symbol's candles at one interval, ascending by start; arrays of equal length."""

    symbol: str
    interval: str
    start_ms: np.ndarray  # int64
    open: np.ndarray  # float64, as high, low, close and volume
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


def require_candles(candles: Candles, needed: int, what: str) -> None:
    """Raise NotEnoughCandles, saying who needs how many, when `candles` is shorter."""
    if len(candles) < needed:
        raise NotEnoughCandles(
            f"{what} needs at least {needed} candles; {len(candles)} {candles.interval} "
            f"candles of {candles.symbol} were available"
        )


def candle_limit(
    limit: int | None, *, default: int, maximum: int, needed: int, needs: str, reader: str
) -> int:
    """The number of candles to read: the asked limit (checked) or `default`, at least
    `needed`; 422 when it cannot work. `needs` names who needs them, with its verb
    ("sma_cross needs"); `reader` who reads them ("request"), for the messages."""
    if needed > maximum:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"{needs} {needed} candles, more than one {reader} may read ({maximum})",
        )
    if limit is None:
        return max(default, needed)
    if limit > maximum:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, f"limit must be at most {maximum}"
        )
    if limit < needed:
        # A limit below what the computation needs can never work.
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"limit={limit} is too small: {needs} at least {needed} candles",
        )
    return limit


def next_close_higher(candles: Candles) -> np.ndarray:
    """1.0 where the next close is higher, 0.0 where not, NaN on the last bar (unknown): the
    target ml-processing's models and trading-engine's `ml` strategy learn."""
    close = candles.close
    out = np.full(len(close), np.nan)
    out[:-1] = (close[1:] > close[:-1]).astype(np.float64)
    return out


def column(rows: list[dict], name: str, dtype: type) -> np.ndarray:
    """One field of the market API's candle objects, as an array."""
    return np.fromiter((row[name] for row in rows), dtype=dtype, count=len(rows))


def candles_from_rows(symbol: str, interval: str, rows: list[dict]) -> Candles:
    """Arrays from the candle objects of the market API (ascending by start_ms)."""
    return Candles(
        symbol=symbol,
        interval=interval,
        start_ms=column(rows, "start_ms", np.int64),
        open=column(rows, "open", np.float64),
        high=column(rows, "high", np.float64),
        low=column(rows, "low", np.float64),
        close=column(rows, "close", np.float64),
        volume=column(rows, "volume", np.float64),
        ticks=column(rows, "ticks", np.int64),
    )


def parse_rows(content: bytes, build: Callable[[list[dict]], T]) -> T:
    """`build` applied to the candle objects of a GET /market/candles answer; a malformed
    answer (or objects `build` cannot read) is MarketDataUnavailable."""
    try:
        return build(orjson.loads(content)["candles"])
    except (ValueError, KeyError, TypeError) as exc:
        raise MarketDataUnavailable(f"unexpected candles answer: {exc!r}"[:200]) from exc


def check_series(symbol: str, interval: str, start_ms: np.ndarray) -> None:
    """NoCandles when nothing is stored; MarketDataUnavailable unless strictly ascending."""
    if len(start_ms) == 0:
        raise NoCandles(f"no {interval} candles stored for {symbol}")
    if np.any(np.diff(start_ms) <= 0):
        raise MarketDataUnavailable("candles are not strictly ascending by start_ms")


def parse_candles(symbol: str, interval: str, content: bytes) -> Candles:
    """Decode a GET /market/candles answer; raise NoCandles when it holds none."""
    candles = parse_rows(content, lambda rows: candles_from_rows(symbol, interval, rows))
    check_series(symbol, interval, candles.start_ms)
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
    # The contract answers 200 with an empty list when nothing is stored; any other status (a
    # 401 for a wrong token, a 404 from a database-service without the market API) means it
    # cannot serve us.
    if response.status_code != 200:
        raise MarketDataUnavailable(f"GET /market/candles answered {response.status_code}")
    return response.content


async def _no_candles(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=404)


async def not_enough(request: Request, exc: Exception) -> JSONResponse:
    """409: the request is sound but the stored history is too short for it (yet)."""
    return JSONResponse({"detail": f"not enough candles: {exc}"}, status_code=409)


def add_handlers(app: FastAPI) -> None:
    """The answers to this module's errors: 503 (with Retry-After) when database-service
    cannot serve candles, 404 when none are stored, 409 when too few are."""
    detail = "market data unavailable, try again later"
    app.add_exception_handler(MarketDataUnavailable, unavailable(detail, "market data", logger=log))
    app.add_exception_handler(NoCandles, _no_candles)
    app.add_exception_handler(NotEnoughCandles, not_enough)
