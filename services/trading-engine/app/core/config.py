"""Settings of trading-engine, read from the environment (see services/README.md)."""

from functools import lru_cache

from pydantic import AliasChoices, Field, model_validator

from servicekit.settings import ServiceSettings


class Settings(ServiceSettings):
    """Backends, the CPU pool's size, the signal cache's lifetime and request size limits."""

    service_name: str = "trading-engine"
    port: int = 8002

    database_service_url: str = "http://database-service:8003"
    # Seconds one call to database-service may take (per attempt; ServiceClient retries).
    database_timeout: float = Field(default=10.0, gt=0)
    redis_url: str = "redis://redis:6379/0"
    # Seconds one Redis command may take; the cache is optional, so a slow Redis only costs this.
    redis_timeout: float = Field(default=1.0, gt=0)

    # Threads of the pool that runs indicators, models and backtests off the event loop. The
    # image sets OMP_NUM_THREADS to the catalog's `threads`, so one variable sizes both the
    # BLAS/OpenMP pools and ours.
    threads: int = Field(
        default=4, ge=1, le=64, validation_alias=AliasChoices("omp_num_threads", "threads")
    )

    # Seconds a cached signal lives. A new candle (or a change to the last one) makes a new
    # key anyway; the TTL bounds the memory and the life of a signal after a late correction.
    signal_cache_ttl: int = Field(default=600, ge=1)
    # Most candles one request may read; bounds its CPU time and the size of its answer.
    max_candles: int = Field(default=20_000, ge=100, le=100_000)
    # Candles read when a request names no limit.
    default_candles: int = Field(default=1_000, ge=50)

    @model_validator(mode="after")
    def _check_limits(self) -> "Settings":
        if self.default_candles > self.max_candles:
            raise ValueError("DEFAULT_CANDLES must not exceed MAX_CANDLES")
        return self


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
