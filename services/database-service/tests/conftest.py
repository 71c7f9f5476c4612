"""Fixtures: settings from the environment and a running app.

The tests need the real backends named by the environment (POSTGRES_*, REDIS_URL, CLICKHOUSE_*);
they never assume an empty database, and every user they create has a random username.
"""

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.main import build_app


@pytest.fixture(scope="session")
def settings() -> Settings:
    s = Settings()
    if not s.internal_token:
        pytest.fail("INTERNAL_TOKEN must be set for the tests (any non-empty value)")
    return s


@pytest.fixture(scope="session")
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(build_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def auth(settings: Settings) -> dict[str, str]:
    return {"x-internal-token": settings.internal_token}
