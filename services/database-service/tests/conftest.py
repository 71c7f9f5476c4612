"""Fixtures: settings from the environment and a running app.

The tests need the real backends named by the environment (POSTGRES_*, REDIS_URL, CLICKHOUSE_*);
they never assume an empty database, and every user they create has a random username.
"""

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

import servicekit_testing as testing
from app.core.config import Settings
from app.main import build_app


@pytest.fixture(scope="session")
def settings() -> Settings:
    s = Settings()
    if not s.internal_callers:
        pytest.fail("INTERNAL_CALLERS must be set for the tests (compose.test.yaml sets it)")
    return s


@pytest.fixture(scope="session")
def client(settings: Settings) -> Iterator[TestClient]:
    # No credential by default: each test says what it presents (`auth`, the operator's).
    with TestClient(build_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def auth() -> dict[str, str]:
    return testing.internal_headers()
