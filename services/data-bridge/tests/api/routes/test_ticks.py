"""POST /ticks and /stats: malformed ticks counted per reason, valid ones stored once."""

import json
import time
import uuid

import httpx

import servicekit_testing as testing
from tests.utils import eventually, unique_symbol

BASE_MS = 1_700_000_000_000


async def test_malformed_ticks_are_counted_per_reason(
    start_bridge, database: httpx.AsyncClient
) -> None:
    symbol = unique_symbol("MA")
    running = await start_bridge(known_symbols=symbol, out_of_order_tolerance_ms=1000)
    source = f"test:{uuid.uuid4().hex}"
    ticks = [
        {"symbol": symbol, "ts_ms": BASE_MS, "price": 10.5, "volume": 2},
        {"symbol": symbol.lower(), "ts": (BASE_MS + 1000) / 1000, "price": "10.6"},
        {"symbol": symbol, "ts_ms": BASE_MS + 2000, "price": float("nan"), "volume": 1},
        {"symbol": symbol, "ts_ms": BASE_MS + 2000, "price": 1, "volume": float("inf")},
        {"symbol": symbol, "ts_ms": BASE_MS + 2000, "price": -3, "volume": 1},
        {"symbol": symbol, "ts_ms": BASE_MS + 2000, "price": 0, "volume": 1},
        {"symbol": symbol, "ts_ms": BASE_MS + 2000, "price": 1, "volume": -1},
        {"symbol": "NOT-DECLARED", "ts_ms": BASE_MS, "price": 1},
        {"symbol": "lower case", "ts_ms": BASE_MS, "price": 1},
        {"symbol": symbol, "ts_ms": BASE_MS - 5000, "price": 1},  # far out of order
        {"symbol": symbol, "ts_ms": BASE_MS + 500, "price": 1},  # late, within tolerance
        {"symbol": symbol, "price": 1},
        "not a tick",
    ]
    async with httpx.AsyncClient(
        base_url=running.url, headers=testing.internal_headers()
    ) as client:
        # json.dumps writes NaN/Infinity literals, as a careless producer would.
        response = await client.post(
            "/ticks",
            content=json.dumps({"ticks": ticks, "source": source}),
            headers={"content-type": "application/json"},
        )
        assert response.status_code == 202, response.text
        assert response.json() == {
            "accepted": 3,
            "rejected": {
                "not_finite": 2,
                "non_positive_price": 2,
                "negative_volume": 1,
                "unknown_symbol": 1,
                "invalid_symbol": 1,
                "out_of_order": 1,
                "malformed": 2,
            },
        }
        bad = await client.post(
            "/ticks", content=b'{"ticks": [', headers={"content-type": "application/json"}
        )
        assert bad.status_code == 400
        shape = await client.post("/ticks", json={"ticks": {"symbol": symbol}})
        assert shape.status_code == 422
        bad_source = await client.post("/ticks", json={"ticks": [], "source": "has space"})
        assert bad_source.status_code == 422

        async def stored() -> bool:
            count = await database.get("/market/ticks/count", params={"source": source})
            return count.json()["count"] == 3

        await eventually(stored)
        stats = (await client.get("/stats")).json()
        assert stats["accepted"] == stats["stored"] == 3
        assert stats["rejected"]["bad_json"] == 1
        assert stats["rejected"]["malformed"] == 2
        assert sum(stats["rejected"].values()) == 11


async def test_too_many_ticks_in_one_request_is_413(start_bridge) -> None:
    symbol = unique_symbol("OV")
    running = await start_bridge(known_symbols=symbol, max_ticks_per_request=10)
    ticks = [{"symbol": symbol, "ts_ms": BASE_MS + i, "price": 1} for i in range(11)]
    async with httpx.AsyncClient(
        base_url=running.url, headers=testing.internal_headers()
    ) as client:
        response = await client.post("/ticks", json={"ticks": ticks})
        assert response.status_code == 413
        assert (await client.get("/stats")).json()["rejected"] == {"oversized": 11}
        assert (await client.post("/ticks", json={"ticks": ticks[:10]})).json()["accepted"] == 10


async def test_health_is_ok_with_storage_up(client: httpx.AsyncClient) -> None:
    report = (await client.get("/health")).json()
    assert report["status"] == "ok", report
    assert set(report["checks"]) == {"database-service", "spool", "quarantine"}


async def test_a_tick_from_the_future_is_refused_and_does_not_block_real_ones(
    start_bridge,
) -> None:
    symbol = unique_symbol("FU")
    running = await start_bridge(known_symbols=symbol, max_future_ms=60_000)
    now_ms = int(time.time() * 1000)
    year_2099 = 4_070_908_800_000
    async with httpx.AsyncClient(
        base_url=running.url, headers=testing.internal_headers()
    ) as client:
        future = await client.post(
            "/ticks", json={"ticks": [{"symbol": symbol, "ts_ms": year_2099, "price": 1}]}
        )
        assert future.json() == {"accepted": 0, "rejected": {"future": 1}}
        real = [{"symbol": symbol, "ts_ms": now_ms + i, "price": 1} for i in range(3)]
        answer = await client.post("/ticks", json={"ticks": real})
        assert answer.json() == {"accepted": 3, "rejected": {}}
        assert (await client.get("/stats")).json()["rejected"]["future"] == 1
