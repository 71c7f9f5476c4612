"""The market SQL on its own: the schema is idempotent and every statement runs as intended.

Runs against a scratch database of the ClickHouse named by the environment, dropped afterwards;
the same statements must also run on a current ClickHouse (see app/market/sql.py).
"""

import uuid
from collections.abc import Iterator

import pytest
from clickhouse_driver import Client

from app.core.config import Settings
from app.market import sql

SCHEMA_TABLES = {"ticks", "tick_batches", "candles"}


def connect(settings: Settings, database: str) -> Client:
    return Client(
        settings.clickhouse_host,
        port=settings.clickhouse_port,
        user=settings.clickhouse_user,
        password=settings.clickhouse_password,
        database=database,
    )


@pytest.fixture
def scratch(settings: Settings) -> Iterator[Client]:
    """A client on an empty database holding the market schema."""
    database = f"dbsvc_test_{uuid.uuid4().hex[:12]}"
    admin = connect(settings, "default")
    admin.execute(f"CREATE DATABASE `{database}`")
    client = connect(settings, database)
    try:
        for statement in sql.DDL:
            client.execute(statement)
        yield client
    finally:
        client.disconnect()
        admin.execute(f"DROP DATABASE IF EXISTS `{database}`")
        admin.disconnect()


def test_the_schema_can_be_applied_again(scratch: Client) -> None:
    for statement in sql.DDL:
        scratch.execute(statement)
    tables = {name for (name,) in scratch.execute("SHOW TABLES")}
    assert tables == SCHEMA_TABLES


def test_tick_statements(scratch: Client) -> None:
    rows = [
        ("AAA", 1_000, 10.0, 1.0, "s1", "b1", 0),
        ("BBB", 1_001, 20.0, 2.0, "s1", "b1", 1),
        ("AAA", 5_000, 11.0, 0.0, "s2", "b2", 0),
    ]
    assert scratch.execute(sql.INSERT_TICKS, rows) == 3

    def batch_count(symbols: tuple[str, ...], first: int, last: int, batch_id: str) -> int:
        params = {"symbols": symbols, "first_ms": first, "last_ms": last, "batch_id": batch_id}
        return scratch.execute(sql.COUNT_BATCH, params)[0][0]

    assert batch_count(("AAA", "BBB"), 1_000, 1_001, "b1") == 2
    assert batch_count(("AAA",), 1_000, 1_001, "b1") == 1  # a one-element tuple still works
    assert batch_count(("AAA",), 1_001, 9_999, "b1") == 0
    assert batch_count(("AAA",), 0, 9_999, "b2") == 1
    by_time = {"first_ms": 1_000, "last_ms": 1_001, "batch_id": "b1"}
    assert scratch.execute(sql.COUNT_BATCH_ANY_SYMBOL, by_time) == [(2,)]

    def count(**params: str) -> int:
        return scratch.execute(sql.count_ticks(tuple(params)), params)[0][0]

    assert count() == 3
    assert count(symbol="AAA") == 2
    assert count(source="s1") == 2
    assert count(symbol="AAA", source="s1") == 1
    assert scratch.execute(sql.SYMBOLS) == [("AAA", 2, 1_000, 5_000), ("BBB", 1, 1_001, 1_001)]


def test_batch_registry_statements(scratch: Client) -> None:
    registration = ("b1", "s1", 2, "f" * 64, ["AAA", "BBB"], 1_000, 1_001)
    scratch.execute(sql.INSERT_BATCH, [registration])
    assert scratch.execute(sql.SELECT_BATCH, {"batch_id": "b1"}) == [(2, "f" * 64)]
    assert scratch.execute(sql.SELECT_BATCH, {"batch_id": "b2"}) == []


def test_candle_statements(scratch: Client) -> None:
    def candle(start_ms: int, close: float, version: int, interval: str = "1m") -> tuple:
        return ("AAA", interval, start_ms, 1.0, 2.0, 0.5, close, 3.0, 4, version)

    scratch.execute(sql.INSERT_CANDLES, [candle(0, 1.0, 1), candle(60_000, 1.0, 1)])
    # Separate inserts are separate parts: FINAL must collapse them without a merge.
    scratch.execute(sql.INSERT_CANDLES, [candle(60_000, 1.5, 2)])
    scratch.execute(sql.INSERT_CANDLES, [candle(60_000, 1.25, 0)])  # an older version
    scratch.execute(sql.INSERT_CANDLES, [candle(0, 9.0, 1, interval="5m")])

    def select(start_ms: int = 0, end_ms: int = 2**64 - 1, limit: int = 10) -> list[tuple]:
        params = {"symbol": "AAA", "interval": "1m", "start_ms": start_ms, "end_ms": end_ms}
        return scratch.execute(sql.SELECT_CANDLES, {**params, "limit": limit})

    assert select() == [(0, 1.0, 2.0, 0.5, 1.0, 3.0, 4), (60_000, 1.0, 2.0, 0.5, 1.5, 3.0, 4)]
    assert [r[0] for r in select(limit=1)] == [60_000]
    assert [r[0] for r in select(end_ms=60_000)] == [0]
    assert [r[0] for r in select(start_ms=60_000)] == [60_000]


def test_unknown_tick_filters_are_refused() -> None:
    with pytest.raises(KeyError):
        sql.count_ticks(("symbol; DROP TABLE ticks",))
