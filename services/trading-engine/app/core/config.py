"""Settings of trading-engine, read from the environment (see services/README.md)."""

from functools import lru_cache

from pydantic import Field

from servicekit.backends import RedisAndDatabaseSettings
from servicekit.market import CandleLimitsSettings
from servicekit.pool import ThreadsSettings


class Settings(RedisAndDatabaseSettings, ThreadsSettings, CandleLimitsSettings):
    """Backends (a slow Redis only costs its REDIS_TIMEOUT: the cache is optional), the CPU
    pool's size (`threads`: indicators, models and backtests), the signal cache's lifetime and
    request size limits (servicekit's DEFAULT_CANDLES and MAX_CANDLES)."""

    service_name: str = "trading-engine"
    port: int = 8002

    # Seconds a cached signal lives. A new candle (or a change to the last one) makes a new
    # key anyway; the TTL bounds the memory and the life of a signal after a late correction.
    signal_cache_ttl: int = Field(default=600, ge=1)


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
