"""The ClickHouse client pool: database and schema creation, no client shared between threads,
unavailability told apart from bad queries."""

import asyncio
import time
import uuid

import pytest
from clickhouse_driver import Client
from clickhouse_driver import errors as ch_errors

from app.core.clickhouse import ClickHouse, ClickHouseUnavailable, is_transient
from app.core.config import Settings
from tests.utils import LOOPBACK, free_port, run


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


def test_the_schema_is_created_with_the_database(settings: Settings) -> None:
    database = f"dbsvc_test_{uuid.uuid4().hex[:12]}"
    schema = (
        "CREATE TABLE IF NOT EXISTS first (x UInt8) ENGINE = MergeTree() ORDER BY x",
        "CREATE TABLE IF NOT EXISTS second (y String) ENGINE = MergeTree() ORDER BY y",
    )
    clickhouse = ClickHouse(settings.model_copy(update={"clickhouse_db": database}), schema)

    async def scenario() -> list:
        try:
            return await clickhouse.execute("SHOW TABLES")
        finally:
            await clickhouse.close()

    try:
        assert run(scenario) == [("first",), ("second",)]
    finally:
        admin(settings).execute(f"DROP DATABASE IF EXISTS `{database}`")


def test_an_unreachable_server_is_unavailable(settings: Settings) -> None:
    update = {"clickhouse_host": LOOPBACK, "clickhouse_port": free_port()}
    clickhouse = ClickHouse(settings.model_copy(update=update))

    async def scenario() -> None:
        try:
            with pytest.raises(ClickHouseUnavailable):
                await clickhouse.execute("SELECT 1")
        finally:
            await clickhouse.close()

    run(scenario)


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (ch_errors.NetworkError("connection refused"), True),
        (ch_errors.SocketTimeoutError("timed out"), True),
        (EOFError("unexpected EOF"), True),
        (ConnectionResetError(), True),
        (ch_errors.ServerException("too many parts", code=252), True),
        (ch_errors.ServerException("memory limit", code=241), True),
        (ch_errors.ServerException("unknown table", code=60), False),
        (ch_errors.ServerException("syntax error", code=62), False),
        (ch_errors.TypeMismatchError("bad value"), False),
        (ValueError("a bug"), False),
    ],
)
def test_transient_errors_are_told_apart(error: Exception, transient: bool) -> None:
    assert is_transient(error) is transient
