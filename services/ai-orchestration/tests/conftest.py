"""Fixtures: the app against the real services and Redis named by the environment.

Storage is shared and never emptied, so the tests store the real EURUSD candles under their
own random symbols (tests.utils.unique_symbol). ml-processing and deep-learning are optional
steps: where they run (the host stack) a session fixture trains and promotes a model and a
small forecaster for the session's symbol and the tests expect complete briefs; where they do
not (the test container runs only database-service, trading-engine and ai-provider) the same
tests expect the partial brief that says they are not running.
"""

import functools
import os
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

REQUIRED_ENV = (
    "DATABASE_SERVICE_URL",
    "TRADING_ENGINE_URL",
    "AI_PROVIDER_URL",
    "REDIS_URL",
    "INTERNAL_TOKEN",
)
_missing = [name for name in REQUIRED_ENV if not os.environ.get(name)]
if _missing:
    raise pytest.UsageError(
        f"set {', '.join(_missing)} (running database-service, trading-engine, ai-provider "
        "and Redis) to run these tests"
    )

import servicekit_testing as testing  # noqa: E402
from app.core.config import Settings  # noqa: E402 - needs the environment checked above
from app.main import build_app  # noqa: E402
from tests.utils import eurusd_candles, poll, reachable, unique_symbol  # noqa: E402

# A forecaster small enough to train in a few seconds on a busy CPU, with the brief's horizon.
SMALL_FORECASTER = {"window": 16, "horizon": 5, "hidden": 8, "epochs": 2, "batch_size": 128}


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
def make_client(settings: Settings) -> Iterator[Callable[..., TestClient]]:
    """Start an app built with other settings; stopped at the end of the test."""
    with testing.started_apps(
        lambda **o: build_app(Settings(**(settings.model_dump() | o)))
    ) as make:
        yield make


def _peer(url: str, **headers: str) -> Iterator[httpx.Client]:
    """A peer service itself (every one is internal: the suite calls it as the operator)."""
    headers = {**testing.internal_headers(), **headers}
    with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
        yield client


@pytest.fixture(scope="session")
def database(settings: Settings) -> Iterator[httpx.Client]:
    """database-service itself, where the tests store their candles."""
    with testing.database_client(settings.database_service_url) as client:
        yield client


@pytest.fixture(scope="session")
def trading(settings: Settings) -> Iterator[httpx.Client]:
    yield from _peer(settings.trading_engine_url)


@pytest.fixture(scope="session")
def ml(settings: Settings) -> Iterator[httpx.Client]:
    yield from _peer(settings.ml_processing_url)


@pytest.fixture(scope="session")
def dl(settings: Settings) -> Iterator[httpx.Client]:
    yield from _peer(settings.deep_learning_url)


@pytest.fixture(scope="session")
def provider(settings: Settings) -> Iterator[httpx.Client]:
    yield from _peer(settings.ai_provider_url)


@pytest.fixture(scope="session")
def store_candles(database: httpx.Client) -> Callable[[list[dict]], None]:
    """POST candles to database-service's market API."""
    return functools.partial(testing.store_candles, database)


@pytest.fixture
def fresh_symbol(store_candles) -> Callable[[int], str]:
    """A new symbol holding the first `count` real EURUSD hourly candles."""

    def make(count: int = 600) -> str:
        symbol = unique_symbol()
        store_candles(eurusd_candles(symbol, count))
        return symbol

    return make


@pytest.fixture(scope="session")
def eurusd(store_candles) -> str:
    """A symbol holding the 5,000 real EURUSD hourly candles."""
    symbol = unique_symbol()
    store_candles(eurusd_candles(symbol))
    return symbol


@pytest.fixture(scope="session")
def optional_services(settings: Settings) -> dict[str, bool]:
    """Which optional services run here: both on the host stack, neither in the container."""
    return {
        "ml-processing": reachable(settings.ml_processing_url),
        "deep-learning": reachable(settings.deep_learning_url),
    }


def _train_model(ml: httpx.Client, symbol: str) -> dict:
    """Train a scikit-learn model on the symbol and promote it (the fastest kind)."""
    body = {"symbol": symbol, "interval": "1h", "model": "sklearn", "limit": 2000, "promote": True}
    response = ml.post("/models/train", json=body)
    assert response.status_code == 202, response.text
    job = poll(
        ml, f"/jobs/{response.json()['id']}", lambda j: j["state"] in ("succeeded", "failed")
    )
    assert job["state"] == "succeeded" and job["promoted"], job
    return job


def _train_forecaster(dl: httpx.Client, symbol: str) -> dict:
    """Train a small forecaster on the symbol's last 600 candles (waits while another trains:
    deep-learning trains one at a time and answers 409 meanwhile)."""
    body = {"symbol": symbol, "interval": "1h", "limit": 600, **SMALL_FORECASTER}
    deadline = time.monotonic() + 180
    while (response := dl.post("/forecasters/train", json=body)).status_code == 409:
        assert time.monotonic() < deadline, response.text
        time.sleep(1)
    assert response.status_code == 202, response.text
    job = poll(
        dl,
        f"/forecasters/jobs/{response.json()['job_id']}",
        lambda j: j["state"] not in ("fetching", "running"),
    )
    assert job["state"] == "succeeded", job
    return job


@pytest.fixture(scope="session")
def trained(
    eurusd: str, optional_services: dict[str, bool], ml: httpx.Client, dl: httpx.Client
) -> dict[str, dict | None]:
    """The session symbol's promoted model and forecaster, where those services run."""
    return {
        "ml-processing": _train_model(ml, eurusd) if optional_services["ml-processing"] else None,
        "deep-learning": (
            _train_forecaster(dl, eurusd) if optional_services["deep-learning"] else None
        ),
    }
