"""The Redis scripts behind sessions and rate limits, under concurrency."""

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from app.core.config import Settings
from app.core.ratelimit import SlidingWindowLimiter
from app.core.sessions import Rotation, SessionStore, profile_key, session_key


@pytest.fixture
async def redis(settings: Settings) -> AsyncIterator[Redis]:
    client = Redis.from_url(settings.redis_url, decode_responses=True)
    yield client
    await client.aclose()


async def test_concurrent_refreshes_with_one_token_revoke_the_session(redis: Redis) -> None:
    store = SessionStore(redis, ttl=60, profile_ttl=60)
    session = await store.create(user_id=str(uuid.uuid4()), username="racer")
    await store.cache_profile(session.id, "{}")

    outcomes = await asyncio.gather(
        *(store.rotate(session.id, session.refresh_jti, uuid.uuid4().hex) for _ in range(10))
    )
    # One wins the compare-and-set; the next one is a reuse and takes the session down.
    assert outcomes.count(Rotation.ROTATED) == 1
    assert Rotation.REUSED in outcomes
    assert await redis.exists(session_key(session.id), profile_key(session.id)) == 0
    assert await store.get(session.id) is None


async def test_rotation_of_a_missing_session(redis: Redis) -> None:
    store = SessionStore(redis, ttl=60, profile_ttl=60)
    outcome = await store.rotate(uuid.uuid4().hex, "any", "other")
    assert outcome is Rotation.MISSING


async def test_parallel_attempts_cannot_overrun_the_limit(redis: Redis) -> None:
    limiter = SlidingWindowLimiter(redis, prefix="test:limit", limit=5, window=60)
    subject = uuid.uuid4().hex
    decisions = await asyncio.gather(*(limiter.acquire(subject) for _ in range(25)))
    assert sum(decision.allowed for decision in decisions) == 5
    refused = [decision for decision in decisions if not decision.allowed]
    assert all(1 <= decision.retry_after <= 60 for decision in refused)

    allowed = next(decision for decision in decisions if decision.allowed)
    await limiter.release(subject, allowed.token)
    assert (await limiter.acquire(subject)).allowed
    await limiter.reset(subject)
    assert await redis.exists(limiter.key(subject)) == 0
