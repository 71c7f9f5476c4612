"""Tick batches when things go wrong: ClickHouse away, a crash between the two writes."""

from collections.abc import Iterator

import pytest
from clickhouse_driver import Client
from fastapi.testclient import TestClient

import servicekit_testing as testing
from app.core.config import Settings
from app.main import build_app
from app.market import sql
from app.market.batches import fingerprint
from app.market.models import TickBatch
from tests.utils import LOOPBACK, TcpRelay, free_port, new_batch, new_symbol

UNAVAILABLE = {"detail": "clickhouse unavailable, retry later"}


@pytest.fixture
def clickhouse(settings: Settings) -> Iterator[Client]:
    client = Client(
        settings.clickhouse_host,
        port=settings.clickhouse_port,
        user=settings.clickhouse_user,
        password=settings.clickhouse_password,
        database=settings.clickhouse_db,
    )
    yield client
    client.disconnect()


def stored(client: TestClient, auth: dict[str, str], symbol: str) -> int:
    response = client.get("/market/ticks/count", params={"symbol": symbol}, headers=auth)
    assert response.status_code == 200, response.text
    return response.json()["count"]


def test_the_fingerprint_ignores_order_and_source_but_not_values() -> None:
    body = new_batch([new_symbol(), new_symbol()], n=20)
    batch = TickBatch.model_validate(body)
    reordered = TickBatch.model_validate({**body, "ticks": body["ticks"][::-1], "source": "x"})
    assert fingerprint(batch) == fingerprint(reordered)
    for field, value in (("price", 100.005), ("volume", 0.5), ("ts_ms", 1), ("symbol", "OTHER")):
        ticks = [{**body["ticks"][0], field: value}, *body["ticks"][1:]]
        changed = TickBatch.model_validate({**body, "ticks": ticks})
        assert fingerprint(changed) != fingerprint(batch), field


def test_a_refused_batch_stores_nothing(client: TestClient, auth: dict[str, str]) -> None:
    symbol = new_symbol()
    body = new_batch(symbol)
    response = client.post("/market/ticks", json=body, headers={"x-internal-token": "wrong"})
    assert response.status_code == 401
    assert stored(client, auth, symbol) == 0


def test_a_registered_batch_without_its_ticks_is_completed(
    client: TestClient, auth: dict[str, str], clickhouse: Client
) -> None:
    # What a crash between registering the batch and inserting its ticks leaves behind.
    symbol = new_symbol()
    body = new_batch(symbol, n=40)
    batch = TickBatch.model_validate(body)
    stamps = [t["ts_ms"] for t in body["ticks"]]
    registration = (
        body["batch_id"],
        body["source"],
        40,
        fingerprint(batch),
        [symbol],
        min(stamps),
        max(stamps),
    )
    clickhouse.execute(sql.INSERT_BATCH, [registration])
    response = client.post("/market/ticks", json=body, headers=auth)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "batch_id": body["batch_id"],
        "ticks": 40,
        "inserted": 40,
        "duplicate": False,
    }
    again = client.post("/market/ticks", json=body, headers=auth).json()
    assert (again["inserted"], again["duplicate"]) == (0, True)
    assert stored(client, auth, symbol) == 40
    # Registered once, not again by the completing attempt.
    rows = clickhouse.execute(
        "SELECT count() FROM tick_batches WHERE batch_id = %(b)s", {"b": body["batch_id"]}
    )
    assert rows == [(1,)]


def test_clickhouse_unreachable_is_503_for_every_market_route(
    settings: Settings, auth: dict[str, str]
) -> None:
    app = build_app(
        settings.model_copy(
            update={
                "clickhouse_host": LOOPBACK,
                "clickhouse_port": free_port(),
                "optional_startup_timeout": 0,
            }
        )
    )
    symbol = new_symbol()
    candle = {
        "symbol": symbol,
        "interval": "1m",
        "start_ms": 0,
        "open": 1.0,
        "high": 1.0,
        "low": 1.0,
        "close": 1.0,
        "volume": 0.0,
        "ticks": 1,
    }
    with TestClient(app, headers=testing.internal_headers()) as client:
        for method, path, body in (
            ("POST", "/market/ticks", new_batch(symbol)),
            ("POST", "/market/candles", {"candles": [candle]}),
            ("GET", f"/market/candles?symbol={symbol}&interval=1m", None),
            ("GET", "/market/ticks/count", None),
            ("GET", "/market/symbols", None),
        ):
            response = client.request(method, path, json=body, headers=auth)
            assert response.status_code == 503, (path, response.text)
            assert response.json() == UNAVAILABLE
            assert response.headers["retry-after"] == "1"


def test_a_batch_retried_after_clickhouse_returns_is_stored_once(
    settings: Settings, auth: dict[str, str]
) -> None:
    relay = TcpRelay(settings.clickhouse_host, settings.clickhouse_port)
    relay.open()
    app = build_app(
        settings.model_copy(update={"clickhouse_host": LOOPBACK, "clickhouse_port": relay.port})
    )
    symbol = new_symbol()
    first, second = new_batch(symbol, n=25), new_batch(symbol, n=15, start_ms=10**12)
    try:
        with TestClient(app, headers=testing.internal_headers()) as client:
            assert client.post("/market/ticks", json=first, headers=auth).status_code == 200
            relay.close()
            # The caller keeps the batch and retries; the second batch cannot be stored now.
            response = client.post("/market/ticks", json=second, headers=auth)
            assert response.status_code == 503, response.text
            assert response.json() == UNAVAILABLE
            relay.open()
            for expected in ((15, False), (0, True)):
                response = client.post("/market/ticks", json=second, headers=auth)
                assert response.status_code == 200, response.text
                assert (response.json()["inserted"], response.json()["duplicate"]) == expected
            assert client.post("/market/ticks", json=first, headers=auth).json()["duplicate"]
            assert stored(client, auth, symbol) == 40
    finally:
        relay.close()
