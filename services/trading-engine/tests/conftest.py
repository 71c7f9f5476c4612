"""Fixtures: the app against the real database-service and Redis named by the environment.

Storage is shared and never emptied, so every test stores its candles under its own random
symbols (tests.utils.unique_symbol). The two real series are stored once per session.
"""

import os
from collections.abc import Callable, Iterator

import pytest
import redis
from fastapi import FastAPI
from fastapi.testclient import TestClient

REQUIRED_ENV = ("DATABASE_SERVICE_URL", "REDIS_URL", "INTERNAL_TOKEN")
_missing = [name for name in REQUIRED_ENV if not os.environ.get(name)]
if _missing:
    raise pytest.UsageError(
        f"set {', '.join(_missing)} (a running database-service and Redis) to run these tests"
    )

import servicekit_testing as testing  # noqa: E402
from app.core.config import Settings  # noqa: E402 - needs the environment checked above
from app.main import build_app  # noqa: E402
from tests.utils import frame_candles, real_series, unique_symbol  # noqa: E402


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings()


@pytest.fixture(scope="session")
def app(settings: Settings) -> FastAPI:
    return build_app(settings)


@pytest.fixture(scope="session")
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, headers=testing.internal_headers()) as test_client:
        yield test_client


@pytest.fixture
def make_client() -> Iterator[Callable[..., TestClient]]:
    """Start an app built with other settings; stopped at the end of the test."""
    with testing.started_apps(lambda **o: build_app(Settings(**o))) as make:
        yield make


@pytest.fixture(scope="session")
def redis_client(settings: Settings) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(settings.redis_url, decode_responses=True)
    yield client
    client.close()


@pytest.fixture(scope="session")
def eurusd(store_candles) -> str:
    """A symbol holding the 5,000 real EURUSD hourly candles."""
    symbol = unique_symbol()
    store_candles(frame_candles(symbol, "1h", real_series("EURUSD")))
    return symbol


@pytest.fixture(scope="session")
def goog(store_candles) -> str:
    """A symbol holding the 2,148 real GOOG daily candles."""
    symbol = unique_symbol()
    store_candles(frame_candles(symbol, "1d", real_series("GOOG")))
    return symbol
