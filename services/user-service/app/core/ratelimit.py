"""Sliding-window limits on login attempts, kept in Redis so every worker and replica agrees."""

import math
import uuid
from dataclasses import dataclass

from redis.asyncio import Redis

# One atomic step: drop entries older than the window, refuse if `limit` remain (answering
# when the oldest leaves the window), else record this attempt. Redis's clock is used so that
# workers with drifting clocks share one notion of "now".
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, tonumber(oldest[2]) + window - now}
end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], window)
return {1, 0}
"""


@dataclass(frozen=True)
class Decision:
    """Whether an attempt may go ahead; if not, in how many seconds one may."""

    allowed: bool
    retry_after: int = 0
    # The entry recorded for an allowed attempt, so it can be taken back.
    token: str = ""


class SlidingWindowLimiter:
    """At most `limit` recorded attempts per key within any `window` seconds."""

    def __init__(self, redis: Redis, *, prefix: str, limit: int, window: int) -> None:
        self.redis = redis
        self.prefix = prefix
        self.limit = limit
        self.window = window
        self._acquire = redis.register_script(_ACQUIRE)

    def key(self, subject: str) -> str:
        return f"{self.prefix}:{subject}"

    async def acquire(self, subject: str) -> Decision:
        """Record an attempt for `subject` unless its window is full."""
        token = uuid.uuid4().hex
        allowed, wait_ms = await self._acquire(
            keys=[self.key(subject)], args=[self.limit, self.window * 1000, token]
        )
        if allowed:
            return Decision(allowed=True, token=token)
        # Whole seconds, rounded up and never 0, so a client honouring it is not refused again.
        return Decision(allowed=False, retry_after=max(1, math.ceil(int(wait_ms) / 1000)))

    async def release(self, subject: str, token: str) -> None:
        """Take back one recorded attempt."""
        await self.redis.zrem(self.key(subject), token)

    async def reset(self, subject: str) -> None:
        """Forget every recorded attempt of `subject`."""
        await self.redis.delete(self.key(subject))
