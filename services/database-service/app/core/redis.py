"""The Redis client and its health check.

redis.asyncio connects lazily and replaces broken connections by itself, so one client made at
start-up keeps working across Redis restarts; nothing here needs to reconnect by hand.
"""

import redis.asyncio as redis

from app.core.config import Settings


def create_client(settings: Settings) -> redis.Redis:
    """A pooled client; makes no connection until the first command."""
    return redis.Redis.from_url(
        settings.redis_url,
        socket_connect_timeout=settings.connect_timeout,
        socket_timeout=5.0,
        health_check_interval=30,
        max_connections=50,
    )


async def check(client: redis.Redis) -> str | None:
    """Ok when PING answers; raises otherwise."""
    await client.ping()
    return None
