"""The Redis scripts behind sessions and rate limits, under concurrency."""

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from app.core.config import Settings
from app.core.loginguard import LoginGuard
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


def guard(redis: Redis, **limits) -> LoginGuard:
    values = {
        "login_max_failures_per_client": 30,
        "login_max_failures_per_account_and_client": 5,
        "login_max_failures_per_account": 100,
        "login_window_seconds": 60,
        **limits,
    }
    return LoginGuard(redis, Settings(**values))


async def test_parallel_guesses_cannot_overrun_the_login_limits(redis: Redis) -> None:
    logins = guard(redis)
    account, client = f"user:{uuid.uuid4()}", f"test-{uuid.uuid4().hex}"
    attempts = await asyncio.gather(*(logins.acquire(account, client) for _ in range(25)))
    assert sum(attempt.allowed for attempt in attempts) == 5
    refused = {attempt.reason for attempt in attempts if not attempt.allowed}
    assert refused == {"too many failed logins for this account from this address"}


async def test_a_success_gives_its_place_back_and_forgives_the_pair(redis: Redis) -> None:
    logins = guard(redis, login_max_failures_per_account_and_client=2)
    account, client = f"user:{uuid.uuid4()}", f"test-{uuid.uuid4().hex}"
    client_key, pair_key, account_key, known_key = LoginGuard.keys(account, client)
    failed = await logins.acquire(account, client)
    assert failed.allowed
    success = await logins.acquire(account, client)
    await logins.succeeded(account, client, success.token)
    # The failure before stays counted for the client and the account, not for the pair.
    assert await redis.zrange(client_key, 0, -1) == [failed.token]
    assert await redis.zrange(account_key, 0, -1) == [failed.token]
    assert await redis.exists(pair_key) == 0
    assert await redis.zscore(known_key, client) is not None
    released = await logins.acquire(account, client)
    await logins.release(account, client, released.token)
    assert await redis.zrange(client_key, 0, -1) == [failed.token]
