"""The result cache: keys per input and last candle, JSON round trips in the real Redis."""

import uuid

import pytest
from redis.asyncio import Redis

from app.cache import PREFIX, ResultCache, cache_key
from app.core.config import Settings

INPUTS = {"symbol": "EURUSD", "interval": "1h", "candles": 500, "strategy": "sma_cross"}
LAST = {"last_start_ms": 1_700_000_000_000, "last_close": 1.0832}


def test_the_key_is_stable_and_names_every_input_and_the_last_candle() -> None:
    key = cache_key("market-brief", INPUTS, LAST)
    assert key.startswith(PREFIX)
    assert key == cache_key("market-brief", dict(reversed(INPUTS.items())), LAST)
    changed = [
        cache_key("market-brief", INPUTS | {"candles": 501}, LAST),
        cache_key("market-brief", INPUTS | {"strategy": "macd_cross"}, LAST),
        cache_key("market-brief", INPUTS, LAST | {"last_start_ms": 1_700_003_600_000}),
        cache_key("market-brief", INPUTS, LAST | {"last_close": 1.0833}),
        cache_key("other", INPUTS, LAST),
    ]
    assert len({key, *changed}) == 6


@pytest.fixture
async def redis(settings: Settings):
    client = Redis.from_url(settings.redis_url, decode_responses=True)
    yield client
    await client.aclose()


async def test_put_then_get_round_trips_with_the_ttl(redis: Redis) -> None:
    cache = ResultCache(redis)
    key = PREFIX + "test-" + uuid.uuid4().hex
    assert await cache.get(key) is None
    result = {"id": "x", "parts": {"candles": {"last_close": 1.0832}}, "missing": []}
    assert await cache.put(key, result, ttl=30)
    assert await cache.get(key) == result
    assert 0 < await redis.ttl(key) <= 30
    await redis.delete(key)


async def test_redis_down_reads_as_a_miss_and_writes_report_failure() -> None:
    dead = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    cache = ResultCache(dead)
    assert await cache.get(PREFIX + "anything") is None
    assert await cache.put(PREFIX + "anything", {"a": 1}, ttl=5) is False
    await dead.aclose()
