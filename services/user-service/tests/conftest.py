"""Fixtures: the app against the real database-service and Redis named by the environment.

Storage is shared and never emptied, so every test makes its own users (random names) and
sends its requests from its own client address (X-Real-IP, as the gateway does, with the
gateway's credential), which keeps the rate limits of one test from touching another. The suite
stands in for the gateway with a secret of its own, added to INTERNAL_CALLERS before the app is
imported (tests.utils.GATEWAY_SECRET).
"""

import json
import os
from collections.abc import Callable, Iterator

import httpx
import pytest
import redis
from fastapi import FastAPI
from fastapi.testclient import TestClient

REQUIRED_ENV = ("DATABASE_SERVICE_URL", "REDIS_URL", "JWT_SECRET", "INTERNAL_TOKEN")
_missing = [name for name in REQUIRED_ENV if not os.environ.get(name)]
if _missing:
    raise pytest.UsageError(
        f"set {', '.join(_missing)} (and ENVIRONMENT=test, BCRYPT_ROUNDS=4) to run these tests"
    )

import servicekit_testing as testing  # noqa: E402
from servicekit.internal import digest  # noqa: E402
from tests.utils import GATEWAY, GATEWAY_SECRET  # noqa: E402

_callers = json.loads(os.environ.get("INTERNAL_CALLERS") or "{}")
os.environ["INTERNAL_CALLERS"] = json.dumps(
    {**_callers, GATEWAY: {"sha256": digest(GATEWAY_SECRET)}}
)

from app.core.config import Settings  # noqa: E402 - needs the environment checked above
from app.main import app as main_app  # noqa: E402
from app.main import build_app  # noqa: E402
from tests.utils import new_credentials, unique_address, via_gateway  # noqa: E402

UserFactory = Callable[..., dict]


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings()


@pytest.fixture(scope="session")
def app() -> FastAPI:
    return main_app


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    """A client whose lifespan runs, posing as its own client address."""
    with TestClient(app, headers=via_gateway(unique_address())) as test_client:
        yield test_client


@pytest.fixture
def make_client() -> Iterator[Callable[..., TestClient]]:
    """Start an app built with other settings; stopped at the end of the test."""
    with testing.started_apps(
        lambda **o: build_app(Settings(**o)), lambda: via_gateway(unique_address())
    ) as make:
        yield make


@pytest.fixture(scope="session")
def redis_client(settings: Settings) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(settings.redis_url, decode_responses=True)
    yield client
    client.close()


@pytest.fixture(scope="session")
def database(settings: Settings) -> Iterator[httpx.Client]:
    """database-service itself, for what user-service does not expose (deactivating a user)."""
    with httpx.Client(
        base_url=settings.database_service_url,
        headers={"X-Internal-Token": settings.internal_token},
        timeout=10,
    ) as client:
        yield client


@pytest.fixture
def make_user(client: TestClient) -> UserFactory:
    """Register a fresh user; returns its credentials plus the stored public fields."""

    def make(**overrides) -> dict:
        credentials = {**new_credentials(), **overrides}
        response = client.post("/auth/register", json=credentials)
        assert response.status_code == 201, response.text
        return {**response.json(), "password": credentials["password"]}

    return make


@pytest.fixture
def login(client: TestClient) -> Callable[[dict], dict]:
    """Log a user in; returns the token pair."""

    def do_login(user: dict) -> dict:
        response = client.post(
            "/auth/login", json={"username": user["username"], "password": user["password"]}
        )
        assert response.status_code == 200, response.text
        return response.json()

    return do_login
