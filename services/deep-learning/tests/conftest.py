"""Fixtures: the app against the real database-service named by the environment.

Storage is shared and never emptied, so the tests store the real EURUSD candles under their
own random symbol (tests.utils.unique_symbol). Checkpoints go to a private temp directory.
"""

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

REQUIRED_ENV = ("DATABASE_SERVICE_URL", "INTERNAL_TOKEN")
_missing = [name for name in REQUIRED_ENV if not os.environ.get(name)]
if _missing:
    raise pytest.UsageError(
        f"set {', '.join(_missing)} (a running database-service) to run these tests"
    )

import servicekit_testing as testing  # noqa: E402
from app.core.config import Settings  # noqa: E402 - needs the environment checked above
from app.main import build_app  # noqa: E402
from tests.utils import SMALL, eurusd_candles, unique_symbol, wait_for_job  # noqa: E402


@pytest.fixture(scope="session")
def checkpoint_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("checkpoints")


@pytest.fixture(scope="session")
def settings(checkpoint_dir: Path) -> Settings:
    return Settings(checkpoint_dir=checkpoint_dir)


@pytest.fixture(scope="session")
def app(settings: Settings) -> FastAPI:
    return build_app(settings)


@pytest.fixture(scope="session")
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, headers=testing.internal_headers()) as test_client:
        yield test_client


@pytest.fixture
def make_client(settings: Settings) -> Iterator[Callable[..., TestClient]]:
    """Start an app built with other settings; stopped at the end of the test. These apps
    rarely embed: they load the model only if a test asks them to."""
    defaults = settings.model_dump() | {"embedding_preload": False}
    with testing.started_apps(lambda **o: build_app(Settings(**(defaults | o)))) as make:
        yield make


@pytest.fixture(scope="session")
def eurusd(store_candles) -> str:
    """A symbol holding the 5,000 real EURUSD hourly candles."""
    symbol = unique_symbol()
    store_candles(eurusd_candles(symbol))
    return symbol


@pytest.fixture(scope="session")
def trained(client: TestClient, eurusd: str) -> dict:
    """A small forecaster trained through the API on the last 600 EURUSD candles: its job."""
    body = {"symbol": eurusd, "interval": "1h", "limit": 600, **SMALL}
    response = client.post("/forecasters/train", json=body)
    assert response.status_code == 202, response.text
    job = wait_for_job(client, response.json()["job_id"])
    assert job["state"] == "succeeded", job
    return job
