"""Settings of ai-orchestration, read from the environment (see services/README.md)."""

from functools import lru_cache

from pydantic import Field, model_validator

from servicekit.redisclient import RedisSettings


class Settings(RedisSettings):
    """The services a workflow calls, its limits (slots, queue, step timeouts) and its cache
    (Redis: optional, so a slow one only costs REDIS_TIMEOUT)."""

    service_name: str = "ai-orchestration"
    port: int = 8004

    # Required steps: without candles or a writer there is no brief.
    database_service_url: str = "http://database-service:8003"
    ai_provider_url: str = "http://ai-provider:8005"
    # Optional steps: when one is down or has nothing to offer, the brief says what is missing.
    trading_engine_url: str = "http://trading-engine:8002"
    ml_processing_url: str = "http://ml-processing:8006"
    deep_learning_url: str = "http://deep-learning:8007"

    # Workflows running at once; more wait in a FIFO queue of WORKFLOW_QUEUE, beyond it 429.
    # Both live in this process's memory, which is why the service runs one worker.
    max_workflows: int = Field(default=5, ge=1, le=1_000)
    workflow_queue: int = Field(default=20, ge=0, le=10_000)
    # Seconds a result stays cached (the key also holds the last candle, so new data misses).
    workflow_cache_ttl: int = Field(default=300, ge=1)
    # Seconds a partial result stays cached (at most WORKFLOW_CACHE_TTL): short, so a service
    # that comes back (a model promoted, deep-learning started) shows in the next brief soon.
    partial_cache_ttl: int = Field(default=30, ge=1)

    # Seconds each data step (candles, indicators, signal, prediction, forecast) may take.
    step_timeout: float = Field(default=5.0, gt=0, le=300)
    # Seconds an optional service that could not be reached is not asked again: each brief
    # in that time lists it as not running at once, instead of paying for the failed connect
    # (a name Docker cannot resolve goes to the host's resolver: 0.1-0.8 s measured).
    peer_retry_seconds: float = Field(default=5.0, ge=0, le=3_600)
    # Seconds the writing step may take: a language model writes slower than a lookup, and
    # ai-provider itself retries and falls back within its PROVIDER_TIMEOUT per model.
    brief_timeout: float = Field(default=20.0, gt=0, le=600)
    # Tokens the writer may produce for one brief.
    brief_max_tokens: int = Field(default=400, ge=16, le=8_000)

    # Candles the indicators and signal are computed on when the request names none, and the
    # most a request may name (bounds what we ask trading-engine to read).
    default_candles: int = Field(default=500, ge=35)
    max_candles: int = Field(default=5_000, ge=35, le=20_000)

    @model_validator(mode="after")
    def _check_limits(self) -> "Settings":
        if self.default_candles > self.max_candles:
            raise ValueError("DEFAULT_CANDLES must not exceed MAX_CANDLES")
        self.partial_cache_ttl = min(self.partial_cache_ttl, self.workflow_cache_ttl)
        return self


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
