"""The base of a service's Backends when it holds Redis and a database-service client.

trading-engine (signal cache, candles) and user-service (sessions and limits, accounts) hold
the same pair: made in the lifespan, checked by /health, closed at shutdown. A service
subclasses this, adds what it builds on them in `open` (after `super().open()`), and
overrides a check whose probe differs.
"""

from redis.asyncio import Redis

from servicekit.database import DatabaseServiceSettings, check_database, database_client
from servicekit.http import ServiceClient
from servicekit.redisclient import RedisSettings, check_redis, redis_client


class RedisAndDatabaseSettings(DatabaseServiceSettings, RedisSettings):
    """DATABASE_SERVICE_URL, DATABASE_TIMEOUT, REDIS_URL and REDIS_TIMEOUT."""


class RedisAndDatabase:
    """Opened by the lifespan (inside the serving event loop), closed at shutdown."""

    redis: Redis
    db: ServiceClient

    def __init__(self, settings: RedisAndDatabaseSettings) -> None:
        self.settings = settings

    async def open(self) -> None:
        """Create both clients; neither connects until first used."""
        self.redis = redis_client(self.settings)
        self.db = database_client(self.settings)

    async def close(self) -> None:
        await self.db.aclose()
        await self.redis.aclose()

    async def check_redis(self) -> str | None:
        """Health: Redis answers PING."""
        return await check_redis(self.redis)

    async def check_database(self) -> str | None:
        """Health: database-service is up and serves us candles with our internal token."""
        return await check_database(self.db)
