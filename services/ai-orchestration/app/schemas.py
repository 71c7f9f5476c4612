"""Request and response bodies of the workflow routes."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SYMBOL_PATTERN = r"^[A-Z0-9._-]{1,16}$"
Interval = Literal["1m", "5m", "1h", "1d"]
# trading-engine's strategies (services/README.md); a name it does not know is a 422 here,
# before any work is queued.
Strategy = Literal["sma_cross", "macd_cross", "rsi_reversion", "bbands_reversion", "ml"]


class MarketBriefCreate(BaseModel):
    """POST /workflows/market-brief. `candles` is checked against MAX_CANDLES by the route."""

    model_config = ConfigDict(extra="forbid")

    symbol: str = Field(pattern=SYMBOL_PATTERN)
    interval: Interval = "1h"
    candles: int | None = Field(
        default=None, ge=35, description="candles the indicators and signal use; default 500"
    )
    strategy: Strategy = "sma_cross"
    horizon: int = Field(default=5, ge=1, le=100, description="forecast steps")
    model: str = Field(default="auto", min_length=1, max_length=200)
    cache: bool = True


class MissingPart(BaseModel):
    part: str
    service: str
    reason: str


class BriefPublic(BaseModel):
    model_config = ConfigDict(extra="allow")

    source: Literal["ai-provider"]
    text: str
    model: str | None
    cache: str | None
    cost_usd: float | None


class MarketBriefPublic(BaseModel):
    """A market brief: the text, each part as its owning service answered it, what is missing."""

    model_config = ConfigDict(extra="allow")

    workflow: Literal["market-brief"]
    id: str
    symbol: str
    interval: Interval
    status: Literal["complete", "partial"]
    brief: BriefPublic
    parts: dict[str, dict | None]
    missing: list[MissingPart]
    cached: bool
    timings_ms: dict[str, float]
    total_ms: float
