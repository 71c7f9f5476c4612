"""Sliding-window limits kept in Redis, so every worker and replica agrees, and the address
a limit counts as one client."""

import ipaddress
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


def client_subject(address: str) -> str:
    """What the limits count as one client: an IPv4 address, or an IPv6 address's /64.

    One host commonly holds a whole /64: counted per address, it would have a fresh budget
    for each of its 2**64 addresses.
    """
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]  # not an address (a test client's peer): counted as written
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((int(ip) >> 64 << 64, 64)))
    return str(ip)


def retry_seconds(wait_ms: int) -> int:
    """Whole seconds, rounded up and never 0, so a client honouring it is not refused again."""
    return max(1, math.ceil(int(wait_ms) / 1000))


@dataclass(frozen=True)
class Decision:
    """Whether an attempt may go ahead; if not, in how many seconds one may."""

    allowed: bool
    retry_after: int = 0


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
        allowed, wait_ms = await self._acquire(
            keys=[self.key(subject)], args=[self.limit, self.window * 1000, uuid.uuid4().hex]
        )
        if allowed:
            return Decision(allowed=True)
        return Decision(allowed=False, retry_after=retry_seconds(wait_ms))
