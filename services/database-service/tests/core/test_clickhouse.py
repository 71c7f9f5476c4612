"""The ClickHouse client pool: database creation, and no client shared between threads."""

import asyncio
import time
import uuid

import pytest
from clickhouse_driver import Client

from app.core.clickhouse import ClickHouse
from app.core.config import Settings
from tests.utils import run


def admin(settings: Settings) -> Client:
    return Client(
        settings.clickhouse_host,
        port=settings.clickhouse_port,
        user=settings.clickhouse_user,
        password=settings.clickhouse_password,
    )


def test_the_database_is_created_on_first_use(settings: Settings) -> None:
    database = f"dbsvc_test_{uuid.uuid4().hex[:12]}"
    clickhouse = ClickHouse(settings.model_copy(update={"clickhouse_db": database}))

    async def scenario() -> list:
        try:
            await clickhouse.check()
            return await clickhouse.execute("SELECT currentDatabase()")
        finally:
            await clickhouse.close()

    try:
        assert run(scenario) == [(database,)]
        assert (database,) in admin(settings).execute("SHOW DATABASES")
    finally:
        admin(settings).execute(f"DROP DATABASE IF EXISTS `{database}`")


def test_a_cancelled_query_keeps_its_client_until_its_thread_ends(settings: Settings) -> None:
    clickhouse = ClickHouse(settings.model_copy(update={"clickhouse_pool_size": 1}))

    async def scenario() -> float:
        try:
            await clickhouse.check()
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(clickhouse.execute("SELECT sleep(1)"), 0.2)
            # The only client is still busy in its thread: this must wait for it, not share it.
            started = time.monotonic()
            assert await clickhouse.execute("SELECT 42") == [(42,)]
            return time.monotonic() - started
        finally:
            await clickhouse.close()

    assert run(scenario) > 0.5


def test_errors_reach_the_caller_and_the_client_returns(settings: Settings) -> None:
    clickhouse = ClickHouse(settings.model_copy(update={"clickhouse_pool_size": 1}))

    async def scenario() -> None:
        try:
            with pytest.raises(Exception, match="no_such_table"):
                await clickhouse.execute("SELECT * FROM no_such_table")
            assert await asyncio.wait_for(clickhouse.execute("SELECT 1"), 2) == [(1,)]
        finally:
            await clickhouse.close()

    run(scenario)
