"""Fixtures: the app against the real database-service named by the environment.

Storage is shared and never emptied, so every test stores its candles under its own random
symbols (tests.utils.unique_symbol). The real EURUSD series is stored once per session, and
one model of each kind is trained on it once; tests that change the registry's state work on
a copy of those versions in a directory of their own.
"""

import os
import shutil
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
from app.registry import VERSIONS  # noqa: E402
from tests.utils import frame_candles, real_series, train, unique_symbol  # noqa: E402

# Small models: the tests check behaviour, not accuracy, and must stay quick on 2 CPUs.
QUICK_PARAMS = {
    "xgboost": {"n_estimators": 40, "max_depth": 3},
    "catboost": {"iterations": 40, "depth": 4},
    "sklearn": {},
}


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def settings(model_dir: Path) -> Settings:
    return Settings(model_dir=str(model_dir))


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
        lambda **o: build_app(Settings(**({"model_dir": settings.model_dir} | o)))
    ) as make:
        yield make


@pytest.fixture(scope="session")
def eurusd(store_candles) -> str:
    """A symbol holding the 5,000 real EURUSD hourly candles."""
    symbol = unique_symbol()
    store_candles(frame_candles(symbol, "1h", real_series("EURUSD")))
    return symbol


@pytest.fixture(scope="session")
def trained(client: TestClient, eurusd: str) -> dict[str, dict]:
    """One finished training job per kind on EURUSD, by kind (in the session's registry)."""
    return {
        kind: train(client, eurusd, kind, params=params) for kind, params in QUICK_PARAMS.items()
    }


@pytest.fixture
def registry_copy(trained: dict[str, dict], model_dir: Path, tmp_path: Path) -> Callable[[], Path]:
    """A MODEL_DIR of this test's own holding the trained versions, none of them promoted."""

    def copy() -> Path:
        target = tmp_path / "models"
        for job in trained.values():
            version = str(job["version"])
            shutil.copytree(model_dir / VERSIONS / version, target / VERSIONS / version)
        return target

    return copy
