"""Request and response bodies of the data-bridge API (services/README.md, Tier 2)."""

from urllib.parse import urlsplit

from pydantic import BaseModel, Field, field_validator

from app.core.ticks import normalize_symbol

SOURCE_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"


class ReplayCreate(BaseModel):
    """Start a replay of `series`; `limit` is a number of bars (4 ticks each) from the start."""

    series: str
    symbol: str | None = None
    speed: float = Field(default=1.0, ge=0, le=1e9)
    limit: int | None = Field(default=None, ge=1)

    @field_validator("symbol")
    @classmethod
    def _symbol(cls, value: str | None) -> str | None:
        return None if value is None else normalize_symbol(value)


class ReplayStarted(BaseModel):
    replay_id: str
    source: str
    symbol: str
    ticks: int
    series: str
    speed: float


class ReplayPublic(BaseModel):
    replay_id: str
    source: str
    series: str
    symbol: str
    speed: float
    state: str  # running | paused | done | cancelled | failed
    ticks: int
    emitted: int
    accepted: int
    rejected: dict[str, int]
    stored: int
    error: str | None
    started_at: float
    finished_at: float | None


class FeedCreate(BaseModel):
    """Ingest the WebSocket feed at `url`, declaring the symbols it may send."""

    url: str = Field(max_length=2048)
    symbols: list[str] = Field(default_factory=list, max_length=1000)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("ws", "wss") or not parts.hostname:
            raise ValueError("a feed URL is ws://host[:port]/path or wss://...")
        _ = parts.port  # raises ValueError for a port out of range (422, not a refusal)
        return value

    @field_validator("symbols")
    @classmethod
    def _symbols(cls, value: list[str]) -> list[str]:
        return [normalize_symbol(name) for name in value]


class FeedPublic(BaseModel):
    feed_id: str
    url: str
    source: str
    symbols: list[str]
    state: str  # connecting | connected | paused | backoff | stopped
    connects: int
    messages: int
    ignored: int
    accepted: int
    rejected: dict[str, int]
    stored: int
    last_error: str | None
    created_at: float


class TicksAccepted(BaseModel):
    accepted: int
    rejected: dict[str, int]
