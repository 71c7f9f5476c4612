"""A pytest plugin for the suites that seed candles into database-service: `database` (the
service itself, as the operator) and `store_candles` (POST a list of candles, in chunks).

A suite opts in with `pytest_plugins = ("servicekit_testing.market",)` in its conftest and
provides a session-scoped `settings` fixture with `database_service_url`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator

import httpx
import pytest

import servicekit_testing as testing


@pytest.fixture(scope="session")
def database(settings) -> Iterator[httpx.Client]:
    """database-service itself, where the tests store their candles."""
    with testing.database_client(settings.database_service_url) as client:
        yield client


@pytest.fixture(scope="session")
def store_candles(database: httpx.Client) -> Callable[[list[dict]], None]:
    """POST candles to database-service's market API."""
    return functools.partial(testing.store_candles, database)
