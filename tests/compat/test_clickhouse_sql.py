"""database-service's market SQL on a current ClickHouse.

The toolkit's own ClickHouse is 18.16 (all it can build offline), and `tests(database-service)`
runs this SQL there. No official image can be pulled on these machines, so a current server
comes from chDB: ClickHouse itself (26.x) embedded in a wheel. Every statement of
app/market/sql.py runs here with its parameters quoted by clickhouse-driver, as the service
sends them, and the answers are checked, not only the syntax.
"""

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import pytest
from chdb import session as chdb_session
from clickhouse_driver import Client
from clickhouse_driver.util.escape import escape_param

ROOT = Path(__file__).resolve().parents[2]
SQL_MODULE = ROOT / "services/database-service/app/market/sql.py"


def _load_sql():
    # By path: every service's package is called `app`, so it cannot be imported by name here.
    spec = importlib.util.spec_from_file_location("market_sql", SQL_MODULE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


sql = _load_sql()
_DRIVER = Client("127.0.0.1")  # never connects: used only to quote parameters


class Server:
    """A chDB session in a database of its own, run with the driver's quoting."""

    def __init__(self, path: Path) -> None:
        self.session = chdb_session.Session(str(path))
        self.session.query("CREATE DATABASE IF NOT EXISTS platform")
        self.session.query("USE platform")

    def execute(self, query: str, params: dict | None = None) -> list[list[str]]:
        if params:
            query = _DRIVER.substitute_params(query, params, _DRIVER.connection.context)
        out = str(self.session.query(query, "TabSeparated"))
        return [line.split("\t") for line in out.splitlines() if line]

    def insert(self, statement: str, rows: list[tuple]) -> None:
        context = _DRIVER.connection.context
        values = ", ".join(
            "(" + ", ".join(str(escape_param(v, context)) for v in row) + ")" for row in rows
        )
        self.session.query(f"{statement} {values}")


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    s = Server(tmp_path_factory.mktemp("chdb"))
    for ddl in sql.DDL:
        s.execute(ddl)
        s.execute(ddl)  # idempotent: every start runs it again
    yield s
    s.session.close()


def test_the_engine_is_a_current_clickhouse(server: Server) -> None:
    major = int(server.execute("SELECT version()")[0][0].split(".")[0])
    assert major >= 24


def test_tick_batches_are_found_and_counted(server: Server) -> None:
    ticks = [("AAA", 1_000 + i, 1.5 + i, 2.0, "replay:x", "b1", i) for i in range(5)]
    ticks += [("BBB", 2_000, 9.0, 1.0, "replay:x", "b1", 5)]
    server.insert(sql.INSERT_BATCH, [("b1", "replay:x", 6, "f" * 64, ["AAA", "BBB"], 1000, 2000)])
    server.insert(sql.INSERT_TICKS, ticks)
    assert server.execute(sql.SELECT_BATCH, {"batch_id": "b1"}) == [["6", "f" * 64]]
    assert server.execute(sql.SELECT_BATCH, {"batch_id": "nope"}) == []
    bounds = {"symbols": ("AAA", "BBB"), "first_ms": 1000, "last_ms": 2000, "batch_id": "b1"}
    assert server.execute(sql.COUNT_BATCH, bounds) == [["6"]]
    assert server.execute(sql.COUNT_BATCH, {**bounds, "symbols": ("AAA",)}) == [["5"]]
    assert server.execute(sql.count_ticks(()), {}) == [["6"]]
    filters = {"symbol": "AAA", "source": "replay:x"}
    assert server.execute(sql.count_ticks(("symbol", "source")), filters) == [["5"]]
    assert server.execute(sql.count_ticks(("source",)), {"source": "other"}) == [["0"]]
    symbols = [["AAA", "5", "1000", "1004"], ["BBB", "1", "2000", "2000"]]
    assert server.execute(sql.SYMBOLS) == symbols


def test_candles_upsert_and_read_latest_ascending(server: Server) -> None:
    def candle(start: int, close: float, version: int) -> tuple:
        return ("CCC", "1m", start, 1.0, 2.0, 0.5, close, 10.0, 3, version)

    server.insert(sql.INSERT_CANDLES, [candle(60_000 * i, float(i), 1) for i in range(10)])
    server.insert(sql.INSERT_CANDLES, [candle(60_000 * 3, 99.0, 2)])  # a later write wins
    query = {"symbol": "CCC", "interval": "1m", "start_ms": 0, "end_ms": 2**63, "limit": 100}
    rows = server.execute(sql.SELECT_CANDLES, query)
    assert [int(r[0]) for r in rows] == [60_000 * i for i in range(10)]
    assert float(rows[3][4]) == 99.0
    latest = server.execute(sql.SELECT_CANDLES, {**query, "limit": 3})
    assert [int(r[0]) for r in latest] == [60_000 * 7, 60_000 * 8, 60_000 * 9]
    window = server.execute(sql.SELECT_CANDLES, {**query, "start_ms": 60_000, "end_ms": 180_000})
    assert [int(r[0]) for r in window] == [60_000, 120_000]
    other = server.execute(sql.SELECT_CANDLES, {**query, "interval": "5m"})
    assert other == []
