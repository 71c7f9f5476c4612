"""Per-client rate limits, counted in Redis and so shared by every worker."""

import asyncio
import uuid

from redis.asyncio import Redis

from app.ratelimit import WINDOW_SECONDS, RateLimiter
from tests.utils import REDIS_URL, away_from_window_end, unique_peer


def test_over_the_limit_is_429_with_retry_after(make_gateway):
    gateway = make_gateway(rate_limit_per_minute=3)
    away_from_window_end()
    statuses = [gateway.post("/auth/login", json={}).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    response = gateway.post("/auth/login", json={})
    assert response.status_code == 429
    assert response.json() == {"detail": "rate limit exceeded: 3 requests per minute"}
    assert 1 <= int(response.headers["retry-after"]) <= WINDOW_SECONDS
    # Refused before the token is even looked at: hammering with bad tokens is limited too.
    assert gateway.get("/auth/me").status_code == 429


def test_limit_is_per_client_address(make_gateway):
    away_from_window_end()
    first = make_gateway(rate_limit_per_minute=2)
    assert [first.post("/auth/login").status_code for _ in range(3)] == [200, 200, 429]
    other = make_gateway(rate_limit_per_minute=2)  # another peer address
    assert other.post("/auth/login").status_code == 200


def test_limit_is_shared_between_workers(make_gateway):
    # Two gateway instances stand for two uvicorn workers: the count lives in Redis.
    away_from_window_end()
    peer = unique_peer()
    worker_a = make_gateway(peer=peer, rate_limit_per_minute=4)
    worker_b = make_gateway(peer=peer, rate_limit_per_minute=4)
    assert [worker_a.post("/auth/login").status_code for _ in range(2)] == [200, 200]
    assert [worker_b.post("/auth/login").status_code for _ in range(2)] == [200, 200]
    assert worker_a.post("/auth/login").status_code == 429
    assert worker_b.post("/auth/login").status_code == 429


def test_limiter_counts_and_expires_its_keys():
    async def scenario() -> None:
        redis = Redis.from_url(REDIS_URL)
        try:
            limiter = RateLimiter(redis, limit=2)
            client = f"unit-{uuid.uuid4().hex}"
            away_from_window_end()
            assert await limiter.hit(client) is None
            assert await limiter.hit(client) is None
            retry_after = await limiter.hit(client)
            assert retry_after is not None and 1 <= retry_after <= WINDOW_SECONDS
            keys = [k async for k in redis.scan_iter(f"ratelimit:{client}:*")]
            assert len(keys) == 1
            assert 0 < await redis.ttl(keys[0]) <= WINDOW_SECONDS + 1
        finally:
            await redis.aclose()

    asyncio.run(scenario())


def test_limiter_fails_open_when_redis_is_down(upstreams):
    async def scenario() -> None:
        redis = Redis.from_url(upstreams.dead.replace("http", "redis"))
        try:
            assert await RateLimiter(redis, limit=1).hit("anyone") is None
            assert await RateLimiter(redis, limit=1).hit("anyone") is None
        finally:
            await redis.aclose()

    asyncio.run(scenario())
