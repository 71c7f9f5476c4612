"""Replays of real historical prices into the real database-service."""

import time

import httpx

from app.core.series import load
from tests.utils import RunningBridge, eventually, unique_symbol


async def replay_and_wait(client: httpx.AsyncClient, **body) -> dict:
    """Start a replay and wait until it is done and everything it accepted is stored."""
    started = await client.post("/replays", json=body)
    assert started.status_code == 202, started.text
    replay_id = started.json()["replay_id"]
    state: dict = {}

    async def finished() -> bool:
        nonlocal state
        state = (await client.get(f"/replays/{replay_id}")).json()
        return state["state"] == "done" and state["stored"] == state["accepted"]

    await eventually(finished, within=60)
    return {**started.json(), **state}


async def stats_settled(client: httpx.AsyncClient) -> bool:
    stats = (await client.get("/stats")).json()
    return stats["pending"] == 0 and stats["outbox"]["memory_batches"] == 0


async def test_series_lists_the_real_data(client: httpx.AsyncClient) -> None:
    response = await client.get("/series")
    assert response.status_code == 200
    by_name = {series["name"]: series for series in response.json()}
    assert set(by_name) == {"GOOG", "EURUSD", "BTCUSD"}
    assert by_name["EURUSD"]["bars"] == 5000 and by_name["EURUSD"]["bar_ms"] == 3_600_000
    assert by_name["GOOG"]["first_ms"] == 1_092_873_600_000  # 2004-08-19


async def test_eurusd_replay_stores_every_accepted_tick_and_its_hourly_bars(
    client: httpx.AsyncClient, database: httpx.AsyncClient
) -> None:
    symbol, bars = unique_symbol("EU"), 600
    replay = await replay_and_wait(client, series="EURUSD", symbol=symbol, speed=0, limit=bars)
    assert replay["ticks"] == replay["accepted"] == 4 * bars
    assert replay["rejected"] == {} and replay["source"] == f"replay:{replay['replay_id']}"
    count = await database.get("/market/ticks/count", params={"source": replay["source"]})
    assert count.json() == {"count": 4 * bars}

    await eventually(lambda: stats_settled(client))  # the last candle batch is stored too
    stored = await database.get("/market/candles", params={"symbol": symbol, "interval": "1h"})
    candles = stored.json()["candles"]
    source = load("EURUSD")
    assert len(candles) == bars
    for i, candle in enumerate(candles):
        assert candle["start_ms"] == source.start_ms[i]
        assert (candle["open"], candle["high"], candle["low"], candle["close"]) == (
            source.open[i],
            source.high[i],
            source.low[i],
            source.close[i],
        )
        assert candle["volume"] == source.volume[i]
        assert candle["ticks"] == 4
    minutes = await database.get("/market/candles", params={"symbol": symbol, "interval": "1m"})
    assert sum(c["ticks"] for c in minutes.json()["candles"]) == 4 * bars


async def test_goog_daily_candles_are_the_source_bars(
    client: httpx.AsyncClient, database: httpx.AsyncClient
) -> None:
    symbol = unique_symbol("GO")
    await replay_and_wait(client, series="GOOG", symbol=symbol, speed=0, limit=50)
    await eventually(lambda: stats_settled(client))
    stored = await database.get("/market/candles", params={"symbol": symbol, "interval": "1d"})
    source = load("GOOG")
    closes = [candle["close"] for candle in stored.json()["candles"]]
    assert closes == source.close[:50].tolist()


async def test_paced_replay_follows_the_clock(client: httpx.AsyncClient) -> None:
    # GOOG's ticks are 6 h apart; at this speed 6 h of market time take 0.1 s.
    speed = 6 * 3600 / 0.1
    began = time.monotonic()
    replay = await replay_and_wait(
        client, series="GOOG", symbol=unique_symbol("GP"), speed=speed, limit=3
    )
    # 12 ticks span 11 intervals of 6 h (the weekend included: bars 1-3 are Thu, Fri, Mon).
    market_ms = 4 * 24 * 3600 * 1000 + 18 * 3600 * 1000
    assert time.monotonic() - began >= market_ms / 1000 / speed
    assert replay["accepted"] == 12


async def test_replay_errors(client: httpx.AsyncClient) -> None:
    assert (await client.post("/replays", json={"series": "NOPE"})).status_code == 404
    bad = await client.post("/replays", json={"series": "GOOG", "symbol": "no spaces"})
    assert bad.status_code == 422
    assert (await client.post("/replays", json={"series": "GOOG", "speed": -1})).status_code == 422
    assert (await client.get("/replays/unknown")).status_code == 404

    symbol = unique_symbol("CF")
    await replay_and_wait(client, series="BTCUSD", symbol=symbol, speed=0, limit=20)
    # The symbol now holds newer ticks than the series' start: every tick would be refused.
    again = await client.post("/replays", json={"series": "BTCUSD", "symbol": symbol, "speed": 0})
    assert again.status_code == 409


async def test_a_replay_can_be_cancelled(bridge: RunningBridge, client: httpx.AsyncClient) -> None:
    started = await client.post(
        "/replays", json={"series": "EURUSD", "symbol": unique_symbol("CA"), "speed": 1}
    )
    replay_id = started.json()["replay_id"]
    cancelled = await client.delete(f"/replays/{replay_id}")
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    listed = (await client.get("/replays")).json()
    assert [r["state"] for r in listed if r["replay_id"] == replay_id] == ["cancelled"]
    assert bridge.bridge.replays.running() == 0
