"""The workflow result cache in Redis: one entry per normalized input and last stored candle.

The key holds the last candle's start and close, read by the (cheap) candles step: a new
candle, or a correction of the one still forming, gives a new key, so fresh data never
answers from an old brief. The TTL bounds how long a brief lives otherwise. Redis is optional:
when it fails the workflow runs uncached and says so in the log.
"""

import hashlib
import json
import logging
from collections.abc import Mapping
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger("ai-orchestration.cache")

PREFIX = "ai-orchestration:result:"


def cache_key(workflow: str, inputs: Mapping[str, Any], last_candle: Mapping[str, Any]) -> str:
    """The Redis key of a workflow's result for these inputs on this last candle."""
    canonical = json.dumps(
        {
            "workflow": workflow,
            "inputs": dict(inputs),
            "last_start_ms": last_candle["last_start_ms"],
            "last_close": last_candle["last_close"],
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    return PREFIX + hashlib.sha256(canonical.encode()).hexdigest()


class ResultCache:
    """Get and put workflow results as JSON with a TTL; Redis errors become misses."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def get(self, key: str) -> dict | None:
        try:
            raw = await self.redis.get(key)
        except RedisError as exc:
            log.warning("cache read failed, running uncached: %s", exc)
            return None
        return None if raw is None else json.loads(raw)

    async def put(self, key: str, result: Mapping[str, Any], ttl: int) -> bool:
        """Store a result for `ttl` seconds; False when Redis failed."""
        try:
            await self.redis.set(key, json.dumps(result, separators=(",", ":")), ex=ttl)
        except RedisError as exc:
            log.warning("cache write failed, result not cached: %s", exc)
            return False
        return True
