"""Tick validation and normalization: every tick either becomes a `Tick` or gets one reason.

Accepted shapes (from POST /ticks, upstream feeds and replays alike): an object with
`symbol`, `ts_ms` (epoch milliseconds) or `ts` (epoch seconds, or an ISO-8601 string, UTC when
it names no zone), `price` and optional `volume` (0 when absent). Numbers may come as numeric
strings; booleans are not numbers. The symbol is upper-cased and must match `[A-Z0-9._-]{1,16}`.

Reasons (one per tick: the first found, roughly in this order): `malformed` (not an object,
a field missing or of the wrong type), `invalid_symbol`,
`not_finite` (NaN or infinity anywhere), `non_positive_price`, `negative_volume`,
`bad_timestamp` (before 1970 or after 2100), `future` (live ticks only: more than
MAX_FUTURE_MS ahead of our clock), `unknown_symbol`, `out_of_order` (older than the symbol's
newest accepted tick by more than the tolerance). `bad_json` and `oversized` are counted by
whoever reads the message (feeds, POST /ticks), before any tick is seen.

Live ticks (POST /ticks, feeds: `TickValidator.check`) happen now, so one dated well ahead of
our clock is a producer's broken clock; accepted, it would move its symbol's watermark there
and every real tick after it would be `out_of_order`. Replays (`TickValidator.admit`) carry the
series' own historical times and are never compared with our clock.

Known symbols are the replayable series' names, the symbols replays write to, those a feed
declares (POST /feeds `symbols`) and KNOWN_SYMBOLS. An unknown symbol is refused rather than
learnt on the fly so that a typo or a hostile feed cannot grow per-symbol state without bound.
"""

import contextlib
import json
import logging
import math
import os
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

log = logging.getLogger("data-bridge.ticks")

SYMBOL_PATTERN = re.compile(r"[A-Z0-9._-]{1,16}")
MIN_TS_MS = 0
MAX_TS_MS = 4_102_444_800_000  # 2100-01-01
DEFAULT_MAX_FUTURE_MS = 60_000  # MAX_FUTURE_MS (see config.py)

REASONS = (
    "bad_json",
    "oversized",
    "malformed",
    "invalid_symbol",
    "not_finite",
    "non_positive_price",
    "negative_volume",
    "bad_timestamp",
    "future",
    "unknown_symbol",
    "out_of_order",
)


class Tick(NamedTuple):
    symbol: str
    ts_ms: int
    price: float
    volume: float


class Rejected(Exception):
    """Raised inside parsing with the reason a tick is refused."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SymbolLimitError(ValueError):
    """Declaring more symbols than MAX_SYMBOLS allows."""


class SymbolRegistry:
    """The set of symbols ticks may carry; it only grows, up to `limit` names.

    With a `path`, the symbols declared at run time (by replays and feeds) are kept there, so
    a restart does not turn a client's declared symbol into `unknown_symbol`: written to a
    temporary file, fsync'd and renamed over the old one before `declare` returns."""

    def __init__(self, initial: list[str], limit: int, path: Path | None = None) -> None:
        self.limit = limit
        self.path = path
        self._names: set[str] = set()
        self._declared: set[str] = set()
        self.declare(initial, keep=False)
        if path is not None and path.is_file():
            try:
                kept = json.loads(path.read_text())
            except (OSError, ValueError):
                log.error("symbols file %s is unreadable: starting without it", path)
                kept = []
            with contextlib.suppress(ValueError):  # a bad name or past the limit: the rest
                self.declare([k for k in kept if isinstance(k, str)], keep=False)
                self._declared |= {normalize_symbol(k) for k in kept if isinstance(k, str)}

    def declare(self, names: list[str], keep: bool = True) -> list[str]:
        """Add `names` (normalized); ValueError on a bad name, SymbolLimitError past the limit."""
        normalized = [normalize_symbol(name) for name in names]
        new = set(normalized) - self._names
        if len(self._names) + len(new) > self.limit:
            raise SymbolLimitError(f"at most {self.limit} symbols may be known")
        self._names |= new
        if keep and new and self.path is not None:
            self._declared |= new
            self._save()
        return normalized

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temp = self.path.with_name(f".{self.path.name}.tmp")
        with open(temp, "w") as handle:
            json.dump(sorted(self._declared), handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, self.path)

    def __contains__(self, name: str) -> bool:
        return name in self._names

    def __len__(self) -> int:
        return len(self._names)


def normalize_symbol(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("a symbol is a string")
    symbol = value.strip().upper()
    if not SYMBOL_PATTERN.fullmatch(symbol):
        raise ValueError(f"symbol {value!r} does not match [A-Z0-9._-]{{1,16}}")
    return symbol


def _number(value: object) -> float:
    if isinstance(value, bool) or value is None:
        raise Rejected("malformed")
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise Rejected("malformed") from None
    else:
        raise Rejected("malformed")
    if not math.isfinite(number):
        raise Rejected("not_finite")
    return number


def _timestamp_ms(raw: dict) -> int:
    if "ts_ms" in raw:
        ms = _number(raw["ts_ms"])
    elif "ts" in raw:
        value = raw["ts"]
        if isinstance(value, str) and not _looks_numeric(value):
            try:
                moment = datetime.fromisoformat(value.strip())
            except ValueError:
                raise Rejected("malformed") from None
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            ms = moment.timestamp() * 1000
        else:
            ms = _number(value) * 1000
    else:
        raise Rejected("malformed")
    if not MIN_TS_MS <= ms < MAX_TS_MS:
        raise Rejected("bad_timestamp")
    return round(ms)


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def parse_tick(raw: object) -> Tick:
    """Normalize one raw tick, ignoring which symbols are known; raises Rejected."""
    if not isinstance(raw, dict) or "symbol" not in raw or "price" not in raw:
        raise Rejected("malformed")
    if "ts_ms" not in raw and "ts" not in raw:
        raise Rejected("malformed")
    if not isinstance(raw["symbol"], str):
        raise Rejected("malformed")
    try:
        symbol = normalize_symbol(raw["symbol"])
    except ValueError:
        raise Rejected("invalid_symbol") from None
    price = _number(raw["price"])
    volume = 0.0 if raw.get("volume") is None else _number(raw["volume"])
    if price <= 0:
        raise Rejected("non_positive_price")
    if volume < 0:
        raise Rejected("negative_volume")
    return Tick(symbol, _timestamp_ms(raw), price, volume)


class TickValidator:
    """Parses ticks; enforces known symbols, per-symbol order and (live ticks) our clock."""

    def __init__(
        self,
        registry: SymbolRegistry,
        tolerance_ms: int,
        max_future_ms: int = DEFAULT_MAX_FUTURE_MS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.registry = registry
        self.tolerance_ms = tolerance_ms
        self.max_future_ms = max_future_ms
        self.clock = clock  # seconds since the epoch
        # Newest accepted timestamp per symbol (bounded by the registry's limit).
        self.watermarks: dict[str, int] = {}

    def admit(self, tick: Tick) -> str | None:
        """Check a parsed tick against known symbols and ordering; None when accepted.

        Replays come here directly: their historical times are not compared with our clock."""
        if tick.symbol not in self.registry:
            return "unknown_symbol"
        newest = self.watermarks.get(tick.symbol)
        if newest is None or tick.ts_ms > newest:
            self.watermarks[tick.symbol] = tick.ts_ms
        elif tick.ts_ms < newest - self.tolerance_ms:
            return "out_of_order"
        return None

    def check(self, raw: object) -> Tick | str:
        """A live tick: the accepted tick, or the reason it is refused."""
        try:
            tick = parse_tick(raw)
        except Rejected as rejected:
            return rejected.reason
        # Before admit(): a tick from the future must never reach the watermark.
        if tick.ts_ms > self.clock() * 1000 + self.max_future_ms:
            return "future"
        return self.admit(tick) or tick
