"""Request and response schemas of the market data API (contract: services/README.md, Tier 2)."""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, StringConstraints, model_validator

# Upper bounds of the contract; a batch is one ClickHouse insert, far below its 1M-row block.
BATCH_MAX_TICKS = 50_000
CANDLES_MAX = 50_000
CANDLE_LIMIT_DEFAULT = 10_000
CANDLE_LIMIT_MAX = 100_000
# 2100-01-01T00:00:00Z: later times are a unit mistake (microseconds, nanoseconds), not data.
EPOCH_MS_MAX = 4_102_444_800_000

INTERVAL_MS = {"1m": 60_000, "5m": 300_000, "1h": 3_600_000, "1d": 86_400_000}
Interval = Literal["1m", "5m", "1h", "1d"]

SYMBOL_PATTERN = r"^[A-Z0-9._-]{1,16}$"
BATCH_ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"
# The contract names sources like "replay:<id>" or "feed:<id>"; any printable ASCII is storable.
SOURCE_PATTERN = r"^[\x21-\x7e]{1,128}$"

Symbol = Annotated[str, StringConstraints(pattern=SYMBOL_PATTERN)]
BatchId = Annotated[str, StringConstraints(pattern=BATCH_ID_PATTERN)]
Source = Annotated[str, StringConstraints(pattern=SOURCE_PATTERN)]
# Strict: JSON numbers only, so "12" or true is a 422 rather than a silent conversion; a float
# still accepts an integer. NaN and infinities (which Python's JSON parser lets through) are
# refused: ClickHouse would store them and every aggregate over them would be poisoned.
EpochMs = Annotated[int, Strict(), Field(ge=0, le=EPOCH_MS_MAX)]
Price = Annotated[float, Strict(), Field(gt=0, allow_inf_nan=False)]
Volume = Annotated[float, Strict(), Field(ge=0, allow_inf_nan=False)]
Count = Annotated[int, Strict(), Field(ge=0, le=2**63 - 1)]

# Unknown fields are refused, as in the users API: a caller sending them expects them stored.
STRICT_BODY = ConfigDict(extra="forbid")


class Tick(BaseModel):
    """One trade or quote: a price and the volume traded at it, at a UTC epoch millisecond."""

    model_config = STRICT_BODY

    symbol: Symbol
    ts_ms: EpochMs
    price: Price
    volume: Volume


class TickBatch(BaseModel):
    """Body of POST /market/ticks: stored all at once, at most once per ``batch_id``."""

    model_config = STRICT_BODY

    batch_id: BatchId
    source: Source
    ticks: list[Tick] = Field(min_length=1, max_length=BATCH_MAX_TICKS)


class TickBatchResult(BaseModel):
    """What POST /market/ticks did: ``inserted`` ticks now, or none for a known batch."""

    batch_id: str
    ticks: int
    inserted: int
    duplicate: bool


class CandleBase(BaseModel):
    """An OHLCV bar opening at ``start_ms`` (aligned to its interval, UTC)."""

    start_ms: EpochMs
    open: Price
    high: Price
    low: Price
    close: Price
    volume: Volume
    ticks: Count


class CandleCreate(CandleBase):
    """One candle of POST /market/candles; the latest write of its key wins."""

    model_config = STRICT_BODY

    symbol: Symbol
    interval: Interval

    @model_validator(mode="after")
    def _consistent(self) -> "CandleCreate":
        if self.start_ms % INTERVAL_MS[self.interval]:
            raise ValueError(
                f"start_ms {self.start_ms} is not aligned to {self.interval} "
                f"(a multiple of {INTERVAL_MS[self.interval]} ms)"
            )
        if not self.low <= min(self.open, self.close) <= max(self.open, self.close) <= self.high:
            raise ValueError("prices must satisfy low <= open, close <= high")
        return self

    def key(self) -> tuple[str, str, int]:
        """What identifies the candle in storage: a later write with this key replaces it."""
        return self.symbol, self.interval, self.start_ms


class CandlesUpsert(BaseModel):
    """Body of POST /market/candles."""

    model_config = STRICT_BODY

    candles: list[CandleCreate] = Field(max_length=CANDLES_MAX)


class CandlesUpserted(BaseModel):
    upserted: int


class CandlePublic(CandleBase):
    """A stored candle, as GET /market/candles lists it."""


class CandleSeries(BaseModel):
    """Answer of GET /market/candles: ascending by ``start_ms``."""

    symbol: str
    interval: str
    candles: list[CandlePublic]


class TickCount(BaseModel):
    count: int


class SymbolSummary(BaseModel):
    """A symbol with stored ticks: how many, and the first and last tick's time."""

    symbol: str
    ticks: int
    first_ms: int
    last_ms: int
