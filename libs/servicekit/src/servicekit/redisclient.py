"""The Redis client of a service that keeps caches, sessions or counters there.

redis.asyncio connects lazily and replaces broken connections by itself, so one client made at
start-up keeps working across Redis restarts. Every command (and connect) is bounded by
REDIS_TIMEOUT, so a Redis that hangs costs a request that long, never longer.

Needs the `redis` package, which every service that imports this module has.
"""

from pydantic import Field
from redis.asyncio import Redis

from servicekit.settings import ServiceSettings


class RedisSettings(ServiceSettings):
    """REDIS_URL and REDIS_TIMEOUT."""

    redis_url: str = "redis://redis:6379/0"
    # Seconds one Redis command (or connect) may take.
    redis_timeout: float = Field(default=1.0, gt=0)


def redis_client(settings: RedisSettings) -> Redis:
    """A pooled client answering str (decode_responses); no connection until first used."""
    return Redis.from_url(
        settings.redis_url,
        decode_responses=True,
        socket_timeout=settings.redis_timeout,
        socket_connect_timeout=settings.redis_timeout,
        health_check_interval=30,
    )


async def check_redis(redis: Redis) -> str | None:
    """Health: Redis answers PING; raises (down) otherwise."""
    await redis.ping()
    return None
