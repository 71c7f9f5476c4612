"""Closes read from database-service's market API, as numpy arrays: servicekit.market's
client (the request, its errors and their answers), decoded into the two columns the
forecasters use.

Decoding happens in the CPU pool (`parse_closes`), since 20,000 candles take tens of
milliseconds to decode.
"""

from dataclasses import dataclass

import numpy as np

from servicekit.market import (
    MarketDataUnavailable,
    NotEnoughCandles,
    check_series,
    column,
    parse_rows,
)


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
    start_ms, close = parse_rows(
        content,
        lambda rows: (column(rows, "start_ms", np.int64), column(rows, "close", np.float64)),
    )
    check_series(symbol, interval, start_ms)
    if not np.all(np.isfinite(close) & (close > 0)):
        raise MarketDataUnavailable(f"stored closes of {symbol} {interval} are not all positive")
    return Closes(symbol, interval, start_ms, close)
