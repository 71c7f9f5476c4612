"""Per-client request limits in fixed one-minute windows, counted in Redis.

Counting in Redis (not in memory) makes the limit hold across uvicorn workers and replicas.
The count can carry the request's session lookup in the same pipeline (`count`), so a request
costs the gateway one Redis round trip, not one per check.
"""

import logging
import math
import time
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger("app.ratelimit")

WINDOW_SECONDS = 60
# While Redis is down every request would log; one line per interval is enough to notice.
LOG_INTERVAL_SECONDS = 10.0


@dataclass(frozen=True)
class Count:
    """One request counted: `retry_after` seconds when over the limit (None within it, or when
    Redis could not count: fail open); `exists`, whether the key asked about is there (None
    when none was asked, or Redis did not answer)."""

    retry_after: int | None
    exists: bool | None = None


class RateLimiter:
    """Allow `limit` requests per client address per window; fail open when Redis is down."""

    def __init__(self, redis: Redis, limit: int, window: int = WINDOW_SECONDS) -> None:
        self.redis = redis
        self.limit = limit
        self.window = window
        self._last_logged = -math.inf

    async def hit(self, client: str) -> int | None:
        """Count one request; return the seconds to wait when over the limit, else None."""
        return (await self.count(client)).retry_after

    async def count(self, client: str, exists: str | None = None) -> Count:
        """Count one request and, in the same round trip, ask whether key `exists` is there
        (the session a token names)."""
        now = time.time()
        window = int(now // self.window)
        key = f"ratelimit:{client}:{window}"
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.incr(key)
                # Slightly past the window end: the key is useless once its window is over.
                pipe.expire(key, self.window + 1)
                if exists is not None:
                    pipe.exists(exists)
                answers = await pipe.execute()
        except (RedisError, OSError) as exc:
            self._log_failure(exc)
            return Count(None)
        found = bool(answers[2]) if exists is not None else None
        if answers[0] <= self.limit:
            return Count(None, found)
        return Count(max(1, math.ceil((window + 1) * self.window - now)), found)

    def _log_failure(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._last_logged >= LOG_INTERVAL_SECONDS:
            self._last_logged = now
            log.warning("rate limiting skipped, Redis unavailable: %s: %s", type(exc).__name__, exc)
