"""Fixtures: data-bridge served in-process on 127.0.0.1 against the real database-service
named by DATABASE_SERVICE_URL (with data-bridge's INTERNAL_TOKEN), each app with its own spool
directory; the suites call the apps, and read database-service, as the operator.

Storage is shared and never emptied, so every test writes its own symbols (random names) and
counts what it stored by its own source (`replay:<id>`, `feed:<id>` or a unique API source).
The pure-logic tests under tests/core need none of this.
"""

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

import servicekit_testing as testing
from app.core.config import Settings
from tests.utils import RunningBridge, SwitchableProxy

REQUIRED_ENV = ("DATABASE_SERVICE_URL", "INTERNAL_TOKEN")

StartBridge = Callable[..., Awaitable[RunningBridge]]


def _environment() -> dict[str, str]:
    missing = [name for name in REQUIRED_ENV if not os.environ.get(name)]
    if missing:
        raise pytest.UsageError(
            f"set {', '.join(missing)} to run data-bridge's integration tests "
            "(the real database-service they store into)"
        )
    return {name: os.environ[name] for name in REQUIRED_ENV}


@pytest.fixture(scope="session")
def database_url() -> str:
    return _environment()["DATABASE_SERVICE_URL"]


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """database-service itself, to see what data-bridge stored."""
    async with httpx.AsyncClient(
        base_url=database_url,
        headers=testing.internal_headers(),  # the operator's: it may read what we count
        timeout=30,
    ) as client:
        yield client


def settings_for(spool_dir: Path, database_url: str, **overrides) -> Settings:
    """Settings for one app: quick batching, the test's own spool, strict limits."""
    values = {
        "environment": "test",
        "database_service_url": database_url,
        "internal_token": _environment()["INTERNAL_TOKEN"],
        "spool_dir": str(spool_dir),
        "batch_max_seconds": 0.1,
        "storage_retry_max_seconds": 0.2,
        "shutdown_flush_seconds": 10.0,
        # The tests serve their upstream feeds on 127.0.0.1, which the feed policy refuses
        # unless it is allowed and private addresses are opted in to.
        "feed_allowed_hosts": "127.0.0.1",
        "feed_allow_private": True,
        **overrides,
    }
    return Settings(**values)


@pytest.fixture
async def start_bridge(tmp_path: Path, database_url: str) -> AsyncIterator[StartBridge]:
    """Start apps (default: the real database-service, a spool under tmp_path); each is shut
    down gracefully at the end of the test unless the test stopped it."""
    started: list[RunningBridge] = []

    async def start(**overrides) -> RunningBridge:
        overrides.setdefault("spool_dir", tmp_path / "spool")
        spool = Path(overrides.pop("spool_dir"))
        url = overrides.pop("database_service_url", database_url)
        running = RunningBridge(settings_for(spool, url, **overrides))
        started.append(running)
        return await running.start()

    yield start
    for running in reversed(started):
        await running.stop()


@pytest.fixture
async def bridge(start_bridge: StartBridge) -> RunningBridge:
    return await start_bridge()


@pytest.fixture
async def client(bridge: RunningBridge) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=bridge.url, headers=testing.internal_headers(), timeout=30
    ) as http:
        yield http


@pytest.fixture
async def proxy(database_url: str) -> AsyncIterator[SwitchableProxy]:
    """A switchable reverse proxy to database-service on 127.0.0.1."""
    target = urlsplit(database_url)
    running = await SwitchableProxy(target.hostname or "127.0.0.1", target.port or 80).start()
    yield running
    await running.stop()
