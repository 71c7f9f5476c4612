"""Request and answer bodies of the forecasting and embedding routes."""

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from servicekit.market import SYMBOL_PATTERN, Interval

Symbol = Annotated[str, Field(pattern=SYMBOL_PATTERN)]
# A close must be a positive, finite price: NaN and Infinity (which Python's JSON parser
# accepts) are refused with 422, as are zero and negative prices (no log return).
Price = Annotated[float, Field(gt=0, allow_inf_nan=False)]


class Strict(BaseModel):
    """Unknown fields are mistakes (a misspelt `horizon` must not silently default)."""

    model_config = ConfigDict(extra="forbid")


class TrainCreate(Strict):
    """POST /forecasters/train. Bounds keep one run to seconds or minutes on a CPU."""

    symbol: Symbol
    interval: Interval
    window: int = Field(default=32, ge=4, le=256, description="log returns read per forecast")
    horizon: int = Field(default=5, ge=1, le=64, description="log returns predicted")
    epochs: int | None = Field(default=None, ge=1, description="default 20, max MAX_EPOCHS")
    limit: int | None = Field(default=None, ge=2, description="candles read; latest first")
    hidden: int = Field(default=32, ge=4, le=256)
    layers: int = Field(default=1, ge=1, le=3)
    batch_size: int = Field(default=64, ge=8, le=4_096)
    learning_rate: float = Field(default=1e-3, gt=0, le=1.0)
    seed: int = Field(default=0, ge=0, le=2**31 - 1)
    val_fraction: float = Field(default=0.2, ge=0.05, le=0.5)


class JobPublic(BaseModel):
    """A training job: fetching, running, then succeeded (with its version) or failed."""

    job_id: str
    state: str
    symbol: str
    interval: str
    config: dict[str, Any]
    created_at_ms: int
    started_at_ms: int | None = None
    finished_at_ms: int | None = None
    candles: int | None = None
    epoch: int
    history: list[dict[str, Any]]
    version: int | None = None
    metrics: dict[str, Any] | None = None
    error: str | None = None


class ForecasterSummary(BaseModel):
    """One checkpoint in GET /forecasters."""

    version: int
    created_at_ms: int
    symbol: str | None
    interval: str | None
    config: dict[str, Any]
    metrics: dict[str, Any]


class ForecasterPublic(ForecasterSummary):
    """GET /forecasters/{version}: everything the checkpoint holds but its weights."""

    model: str
    candles: int | None = None
    first_start_ms: int | None = None
    last_start_ms: int | None = None
    normalization: dict[str, Any]
    band: dict[str, Any]
    history: list[dict[str, Any]]
    torch: str


class ForecastCreate(Strict):
    """POST /forecast: from the stored candles of `symbol`/`interval`, or from `history`."""

    symbol: Symbol | None = None
    interval: Interval | None = None
    history: list[Price] | None = Field(
        default=None, description="closes, oldest first; at least the forecaster's window + 1"
    )
    horizon: int | None = Field(default=None, ge=1, description="default: the forecaster's")
    version: int | None = Field(default=None, ge=1, description="default: the latest fitting")


class ForecastStep(BaseModel):
    step: int
    start_ms: int | None  # the candle's start when forecasting stored candles
    close: float
    lower: float
    upper: float
    log_return: float


class ForecastPublic(BaseModel):
    version: int
    symbol: str | None
    interval: str | None
    source: str  # "store" or "history"
    last_close: float
    last_start_ms: int | None
    horizon: int
    steps: list[ForecastStep]
    band: dict[str, Any]
    metrics: dict[str, Any]


class EmbeddingsCreate(Strict):
    """POST /embeddings. Count and length bounds are settings (413 beyond them)."""

    texts: list[str] = Field(min_length=1)


class EmbeddingsPublic(BaseModel):
    model: str
    dimension: int
    normalized: bool
    embeddings: list[list[float]]
