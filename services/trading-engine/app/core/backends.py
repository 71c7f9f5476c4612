"""What trading-engine holds for its lifetime: database-service, Redis and the CPU pool."""

from app.core.config import Settings
from app.signals import SignalCache
from servicekit.backends import RedisAndDatabase
from servicekit.market import Candles, fetch_candles, parse_candles
from servicekit.pool import CpuPool


class Backends(RedisAndDatabase):
    """The signal cache in Redis and candles from database-service (servicekit.backends:
    opened by the lifespan, closed at shutdown, both checked by /health), and the CPU pool."""

    settings: Settings
    cache: SignalCache
    pool: CpuPool

    async def open(self) -> None:
        """Create the clients (neither connects until first used) and the CPU pool."""
        await super().open()
        s = self.settings
        self.cache = SignalCache(self.redis, ttl=s.signal_cache_ttl)
        # Indicators, models and backtests run there (`pool.run`), never on the event loop.
        self.pool = CpuPool(s.threads, "trading-cpu")

    async def close(self) -> None:
        await super().close()
        # Running computations finish (their requests are gone); queued ones are dropped.
        self.pool.close()

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
        return await self.pool.run(parse_candles, symbol, interval, content)
