"""Tick batches against a real ClickHouse: stored once, duplicates recognized, conflicts refused.

Every test uses symbols, sources and batch ids of its own, so the shared database never matters.
"""

import asyncio

import httpx
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.main import build_app
from app.market.sql import COUNT_BATCH_SYMBOLS_MAX
from tests.utils import EPOCH_MS, new_batch, new_symbol


def post_batch(client: TestClient, auth: dict[str, str], body: dict) -> dict:
    response = client.post("/market/ticks", json=body, headers=auth)
    assert response.status_code == 200, response.text
    return response.json()


def count(client: TestClient, auth: dict[str, str], **params: str) -> int:
    response = client.get("/market/ticks/count", params=params, headers=auth)
    assert response.status_code == 200, response.text
    return response.json()["count"]


def test_a_batch_is_stored_and_counted(client: TestClient, auth: dict[str, str]) -> None:
    a, b = new_symbol(), new_symbol()
    body = new_batch([a, b], n=501)
    assert post_batch(client, auth, body) == {
        "batch_id": body["batch_id"],
        "ticks": 501,
        "inserted": 501,
        "duplicate": False,
    }
    assert count(client, auth, symbol=a) == 251
    assert count(client, auth, symbol=b) == 250
    assert count(client, auth, source=body["source"]) == 501
    assert count(client, auth, symbol=a, source=body["source"]) == 251
    assert count(client, auth, symbol=a, source=f"{body['source']}-other") == 0


def test_the_count_without_filters_covers_every_symbol(
    client: TestClient, auth: dict[str, str]
) -> None:
    before = count(client, auth)
    post_batch(client, auth, new_batch(new_symbol(), n=7))
    # Other suites may store ticks meanwhile: the total grows by at least this batch.
    assert count(client, auth) >= before + 7


def test_the_same_batch_twice_is_a_duplicate(client: TestClient, auth: dict[str, str]) -> None:
    symbol = new_symbol()
    body = new_batch(symbol, n=100)
    assert post_batch(client, auth, body)["inserted"] == 100
    again = post_batch(client, auth, body)
    assert again == {"batch_id": body["batch_id"], "ticks": 100, "inserted": 0, "duplicate": True}
    assert count(client, auth, symbol=symbol) == 100


def test_a_reordered_resend_is_a_duplicate(client: TestClient, auth: dict[str, str]) -> None:
    symbol = new_symbol()
    body = new_batch(symbol, n=50)
    post_batch(client, auth, body)
    resend = {**body, "ticks": list(reversed(body["ticks"]))}
    assert post_batch(client, auth, resend)["duplicate"] is True
    assert count(client, auth, symbol=symbol) == 50


def test_a_resend_from_another_source_is_a_duplicate(
    client: TestClient, auth: dict[str, str]
) -> None:
    symbol = new_symbol()
    body = new_batch(symbol, n=20)
    post_batch(client, auth, body)
    assert post_batch(client, auth, {**body, "source": "test:elsewhere"})["duplicate"] is True
    assert count(client, auth, symbol=symbol) == 20
    assert count(client, auth, source=body["source"]) == 20


def test_another_tick_count_under_a_known_id_is_409(
    client: TestClient, auth: dict[str, str]
) -> None:
    symbol = new_symbol()
    body = new_batch(symbol, n=30)
    post_batch(client, auth, body)
    for ticks in (body["ticks"][:10], [*body["ticks"], *new_batch(symbol, n=1)["ticks"]]):
        response = client.post("/market/ticks", json={**body, "ticks": ticks}, headers=auth)
        assert response.status_code == 409, response.text
        assert response.json() == {
            "detail": f"batch {body['batch_id']} is already stored with 30 ticks, not {len(ticks)}"
        }
    assert count(client, auth, symbol=symbol) == 30


def test_other_ticks_under_a_known_id_are_409(client: TestClient, auth: dict[str, str]) -> None:
    symbol, other = new_symbol(), new_symbol()
    body = new_batch(symbol, n=30)
    post_batch(client, auth, body)
    # Same count, but other symbols (whose range the stored batch does not even touch) or
    # another price: storing either would put two batches under one id.
    for changed in (
        new_batch(other, n=30)["ticks"],
        [{**body["ticks"][0], "price": 99.5}, *body["ticks"][1:]],
    ):
        response = client.post("/market/ticks", json={**body, "ticks": changed}, headers=auth)
        assert response.status_code == 409, response.text
        assert response.json()["detail"] == (
            f"batch {body['batch_id']} is already stored with other ticks"
        )
    assert count(client, auth, symbol=symbol) == 30
    assert count(client, auth, symbol=other) == 0


def test_a_full_batch_of_50000_ticks_is_one_insert(
    client: TestClient, auth: dict[str, str]
) -> None:
    symbol = new_symbol()
    body = new_batch(symbol, n=50_000)
    assert post_batch(client, auth, body)["inserted"] == 50_000
    assert count(client, auth, symbol=symbol) == 50_000
    assert post_batch(client, auth, body)["duplicate"] is True
    summary = next(
        s for s in client.get("/market/symbols", headers=auth).json() if s["symbol"] == symbol
    )
    assert summary == {
        "symbol": symbol,
        "ticks": 50_000,
        "first_ms": EPOCH_MS,
        "last_ms": EPOCH_MS + 49_999,
    }


def test_a_batch_of_very_many_symbols_is_recognized_when_resent(
    client: TestClient, auth: dict[str, str]
) -> None:
    # More symbols than the duplicate check lists in its query (sql.COUNT_BATCH_SYMBOLS_MAX).
    symbols = [new_symbol() for _ in range(COUNT_BATCH_SYMBOLS_MAX + 200)]
    body = new_batch(symbols, n=len(symbols) * 2)
    assert post_batch(client, auth, body)["inserted"] == len(symbols) * 2
    assert post_batch(client, auth, body)["duplicate"] is True
    assert count(client, auth, source=body["source"]) == len(symbols) * 2
    assert count(client, auth, symbol=symbols[-1]) == 2


async def test_concurrent_posts_of_one_batch_store_it_once(
    settings: Settings, client: TestClient, auth: dict[str, str]
) -> None:
    # Two app instances, each with its own PostgreSQL and ClickHouse pools, stand for two
    # worker processes: only the advisory lock in PostgreSQL is common to them.
    symbol = new_symbol()
    body = new_batch(symbol, n=2_000)
    apps = [build_app(settings), build_app(settings)]
    async with apps[0].router.lifespan_context(apps[0]), apps[1].router.lifespan_context(apps[1]):
        callers = [
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")
            for app in apps
        ]
        responses = await asyncio.gather(
            *(callers[i % 2].post("/market/ticks", json=body, headers=auth) for i in range(8))
        )
        for caller in callers:
            await caller.aclose()
    assert [r.status_code for r in responses] == [200] * 8, [r.text for r in responses]
    results = [r.json() for r in responses]
    assert sorted(r["inserted"] for r in results) == [0] * 7 + [2_000]
    assert sum(r["duplicate"] for r in results) == 7
    assert count(client, auth, symbol=symbol) == 2_000


def test_symbols_list_each_symbol_with_its_span(client: TestClient, auth: dict[str, str]) -> None:
    a, b = sorted([new_symbol(), new_symbol()])
    post_batch(client, auth, new_batch([a, b], n=10, start_ms=EPOCH_MS))
    post_batch(client, auth, new_batch(a, n=5, start_ms=EPOCH_MS + 60_000))
    response = client.get("/market/symbols", headers=auth)
    assert response.status_code == 200
    listed = response.json()
    names = [s["symbol"] for s in listed]
    assert names == sorted(names)
    mine = [s for s in listed if s["symbol"] in (a, b)]
    assert mine == [
        {"symbol": a, "ticks": 10, "first_ms": EPOCH_MS, "last_ms": EPOCH_MS + 60_004},
        {"symbol": b, "ticks": 5, "first_ms": EPOCH_MS + 1, "last_ms": EPOCH_MS + 9},
    ]
