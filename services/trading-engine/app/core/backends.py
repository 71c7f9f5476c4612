"""What trading-engine holds for its lifetime: database-service, Redis and the CPU pool."""

import asyncio
import functools
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from redis.asyncio import Redis

from app.core.config import Settings
from app.market import Candles, fetch_candles, parse_candles
from app.signals import SignalCache
from servicekit.http import ServiceClient

log = logging.getLogger("trading-engine.backends")

T = TypeVar("T")


class Backends:
    """Opened by the lifespan (inside the serving event loop), closed at shutdown."""

    redis: Redis
    db: ServiceClient
    cache: SignalCache
    pool: ThreadPoolExecutor

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def open(self) -> None:
        """Create the clients (neither connects until first used) and the CPU pool."""
        s = self.settings
        self.redis = Redis.from_url(
            s.redis_url,
            decode_responses=True,
            socket_timeout=s.redis_timeout,
            socket_connect_timeout=s.redis_timeout,
            health_check_interval=30,
        )
        self.db = ServiceClient(
            s.database_service_url, timeout=s.database_timeout, internal_token=s.internal_token
        )
        self.cache = SignalCache(self.redis, ttl=s.signal_cache_ttl)
        self.pool = ThreadPoolExecutor(max_workers=s.threads, thread_name_prefix="trading-cpu")

    async def close(self) -> None:
        await self.db.aclose()
        await self.redis.aclose()
        # Running computations finish (their requests are gone); queued ones are dropped.
        self.pool.shutdown(wait=True, cancel_futures=True)

    async def run(self, fn: Callable[..., T], *args, **kwargs) -> T:
        """Run CPU work in the pool, never on the event loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.pool, functools.partial(fn, *args, **kwargs))

    async def candles(
        self,
        symbol: str,
        interval: str,
        limit: int,
        start_ms: int | None = None,
        end_ms: int | None = None,
    ) -> Candles:
        """The latest `limit` stored candles (in the window); NoCandles when there are none."""
        content = await fetch_candles(self.db, symbol, interval, limit, start_ms, end_ms)
        return await self.run(parse_candles, symbol, interval, content)

    async def check_redis(self) -> str | None:
        """Health: Redis answers PING (the signal cache lives there)."""
        await self.redis.ping()
        return None

    async def check_database(self) -> str | None:
        """Health: database-service is up and serves us candles with our internal token."""
        response = await self.db.get("/health")
        try:
            status = response.json().get("status")
        except (ValueError, AttributeError):
            status = None
        if response.status_code != 200 or status not in ("ok", "degraded"):
            raise RuntimeError(f"database-service /health answered {response.status_code} {status}")
        probe = await self.db.get(
            "/market/candles", params={"symbol": "HEALTH-PROBE", "interval": "1m", "limit": 1}
        )
        if probe.status_code in (401, 403):
            raise RuntimeError("database-service rejects our INTERNAL_TOKEN")
        if probe.status_code != 200:
            return f"database-service GET /market/candles answered {probe.status_code}"
        if status == "degraded":
            return "database-service reports degraded"
        return None
