"""Fixtures: real upstream servers, a real Redis, sessions and gateways to drive."""

import os

# Before the app is imported: app.main builds the default app from the environment.
os.environ.setdefault("ENVIRONMENT", "test")
os.environ.setdefault("JWT_SECRET", "test-secret-0123456789abcdef0123456789")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
# The stack's rules name the real services; the tests route to their own (and set rules so).
os.environ.pop("ACCESS_RULES", None)

import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack

import pytest
import redis
from fastapi.testclient import TestClient

from app.main import create_gateway
from tests.upstreams import (
    dead_url,
    echo_app,
    garbage_server,
    models_app,
    resetting_server,
    serve,
    silent_url,
    slow_app,
)
from tests.utils import (
    REDIS_URL,
    SLOW_DELAY,
    Session,
    Upstreams,
    make_token,
    settings_for,
    unique_peer,
)


@pytest.fixture(scope="session")
def upstreams() -> Iterator[Upstreams]:
    with ExitStack() as stack:
        echo = stack.enter_context(serve(echo_app()))
        slow = stack.enter_context(serve(slow_app(SLOW_DELAY)))
        dead = stack.enter_context(dead_url())
        garbage, connections = stack.enter_context(garbage_server())
        silent = stack.enter_context(silent_url())
        models = stack.enter_context(serve(models_app()))
        resetting, resets = stack.enter_context(resetting_server())
        yield Upstreams(echo, slow, dead, garbage, connections, silent, models, resetting, resets)


@pytest.fixture(scope="session")
def redis_client() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    client.ping()  # a clear failure here beats 50 confusing ones later
    yield client
    client.close()


@pytest.fixture
def make_gateway(upstreams: Upstreams) -> Iterator[Callable[..., TestClient]]:
    """Start gateways (lifespan included) with setting overrides; all closed after the test."""
    with ExitStack() as stack:

        def make(peer: tuple[str, int] | None = None, **overrides) -> TestClient:
            app = create_gateway(settings_for(upstreams, **overrides))
            return stack.enter_context(TestClient(app, client=peer or unique_peer()))

        yield make


@pytest.fixture
def make_live_gateway(upstreams: Upstreams) -> Iterator[Callable[..., str]]:
    """Serve gateways with uvicorn on loopback (the real protocol stack); yields ws:// URLs."""
    with ExitStack() as stack:

        def make(**overrides) -> str:
            # Every test connects from 127.0.0.1: one shared budget, far above what they use.
            overrides.setdefault("rate_limit_per_minute", 100_000)
            app = create_gateway(settings_for(upstreams, **overrides))
            url = stack.enter_context(serve(app, lifespan="on"))
            return url.replace("http://", "ws://")

        yield make


@pytest.fixture
def live_gateway(make_live_gateway) -> str:
    return make_live_gateway()


@pytest.fixture
def gateway(make_gateway) -> TestClient:
    return make_gateway()


@pytest.fixture
def session(redis_client: redis.Redis) -> Iterator[Session]:
    """A live session in Redis and an access token for it; removed after the test."""
    user_id, sid = str(uuid.uuid4()), uuid.uuid4().hex
    username = f"user-{sid[:8]}"
    key = f"session:{sid}"
    redis_client.hset(key, mapping={"user_id": user_id, "username": username, "refresh_jti": "x"})
    redis_client.expire(key, 600)
    yield Session(user_id, username, sid, make_token(sub=user_id, sid=sid, username=username))
    redis_client.delete(key)
