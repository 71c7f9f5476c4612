"""Storage outages end to end: buffered, spooled, flushed in order, every tick stored once."""

import uuid
from pathlib import Path

import httpx

import servicekit_testing as testing
from tests.utils import SwitchableProxy, eventually, unique_symbol


async def json_of(client: httpx.AsyncClient, path: str, **params) -> dict:
    return (await client.get(path, params=params)).json()


async def stored_count(database: httpx.AsyncClient, source: str) -> int:
    return (await json_of(database, "/market/ticks/count", source=source))["count"]


def spool_files(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.glob("*.json"))


async def test_outage_spools_then_flushes_exactly_once(
    start_bridge, proxy: SwitchableProxy, database: httpx.AsyncClient, tmp_path: Path
) -> None:
    spool = tmp_path / "outage-spool"
    running = await start_bridge(
        database_service_url=proxy.url, spool_dir=spool, buffer_max_ticks=300, batch_max_ticks=100
    )
    proxy.switch("refuse")
    async with httpx.AsyncClient(
        base_url=running.url, headers=testing.internal_headers(), timeout=30
    ) as client:
        started = await client.post(
            "/replays",
            json={"series": "EURUSD", "symbol": unique_symbol("OU"), "speed": 0, "limit": 400},
        )
        source = started.json()["source"]

        async def replay_done() -> bool:
            return (await json_of(client, f"/replays/{started.json()['replay_id']}"))[
                "state"
            ] == "done"

        await eventually(replay_done)
        stats = await json_of(client, "/stats")
        assert stats["accepted"] == 1600 and stats["stored"] == 0
        assert stats["storage"] == "down" and stats["spooled"] >= 1600 - 300
        assert len(spool_files(spool)) >= 13  # 100-tick batches past the 300 kept in memory

        async def storage_degraded() -> bool:  # within a health interval (servicekit.health)
            report = await json_of(client, "/health")
            return report["checks"]["database-service"]["status"] == "degraded"

        await eventually(storage_degraded)
        health = await client.get("/health")
        assert health.status_code == 200  # degraded, not down: it buffers

        proxy.switch("503")  # database-service up, ClickHouse away
        failures = stats["batches"]["send_failures"]

        async def failing_on_503() -> bool:
            return (await json_of(client, "/stats"))["batches"]["send_failures"] > failures + 2

        await eventually(failing_on_503)
        assert await stored_count(database, source) == 0

        proxy.switch("up")

        async def flushed() -> bool:
            return (await json_of(client, "/stats"))["stored"] == 1600

        await eventually(flushed, within=60)
        assert await stored_count(database, source) == 1600
        stats = await json_of(client, "/stats")
        assert stats["pending"] == 0 and stats["spooled"] == 0 and stats["storage"] == "up"
        assert spool_files(spool) == []
        # An outage (refused connections, then 503 while ClickHouse is away) is never taken
        # for batches storage breaks on.
        assert stats["batches"]["rejected"] == 0 and stats["quarantine"]["batches"] == 0


async def test_a_resend_after_a_lost_answer_is_not_stored_twice(
    start_bridge, proxy: SwitchableProxy, database: httpx.AsyncClient
) -> None:
    symbol = unique_symbol("LO")
    running = await start_bridge(database_service_url=proxy.url, known_symbols=symbol)
    source = f"test:{uuid.uuid4().hex}"
    proxy.switch("lose_answers")
    ticks = [{"symbol": symbol, "ts_ms": 1_700_000_000_000 + i, "price": 2.5} for i in range(50)]
    async with httpx.AsyncClient(
        base_url=running.url, headers=testing.internal_headers(), timeout=30
    ) as client:
        response = await client.post("/ticks", json={"ticks": ticks, "source": source})
        assert response.json()["accepted"] == 50

        async def landed_unacknowledged() -> bool:
            return await stored_count(database, source) == 50

        await eventually(landed_unacknowledged)  # stored, but data-bridge never heard so
        assert (await json_of(client, "/stats"))["stored"] == 0
        proxy.switch("up")

        async def acknowledged() -> bool:
            return (await json_of(client, "/stats"))["stored"] == 50

        await eventually(acknowledged)
        stats = await json_of(client, "/stats")
        assert stats["batches"]["duplicates"] >= 1
        assert await stored_count(database, source) == 50


async def test_a_restart_flushes_what_the_previous_run_spooled(
    start_bridge, proxy: SwitchableProxy, database: httpx.AsyncClient, tmp_path: Path
) -> None:
    symbol, spool = unique_symbol("RS"), tmp_path / "restart-spool"
    source = f"test:{uuid.uuid4().hex}"
    first = await start_bridge(
        database_service_url=proxy.url, spool_dir=spool, known_symbols=symbol
    )
    proxy.switch("refuse")
    async with httpx.AsyncClient(
        base_url=first.url, headers=testing.internal_headers(), timeout=30
    ) as client:
        for request in range(3):
            ticks = [
                {"symbol": symbol, "ts_ms": 1_700_000_000_000 + request * 1000 + i, "price": 7}
                for i in range(400)
            ]
            answer = await client.post("/ticks", json={"ticks": ticks, "source": source})
            assert answer.json()["accepted"] == 400
    await first.stop()  # graceful: storage is away, so everything pending goes to the spool
    spooled = [name.split(".") for name in spool_files(spool)]
    assert sum(int(count) for _, kind, count, _ in spooled if kind == "ticks") == 1200
    assert await stored_count(database, source) == 0

    second = await start_bridge(spool_dir=spool)  # the real database-service, same spool
    async with httpx.AsyncClient(
        base_url=second.url, headers=testing.internal_headers(), timeout=30
    ) as client:

        async def flushed() -> bool:
            # Ticks count as stored before the last candle file leaves the spool.
            return (await json_of(client, "/stats"))["stored"] == 1200 and not spool_files(spool)

        await eventually(flushed, within=60)
    assert await stored_count(database, source) == 1200
    minute = await json_of(database, "/market/candles", symbol=symbol, interval="1m")
    assert sum(candle["ticks"] for candle in minute["candles"]) == 1200


async def test_a_full_spool_holds_producers_back_and_loses_nothing(
    start_bridge, proxy: SwitchableProxy, database: httpx.AsyncClient, tmp_path: Path
) -> None:
    symbol = unique_symbol("BP")
    running = await start_bridge(
        database_service_url=proxy.url,
        spool_dir=tmp_path / "small-spool",
        spool_max_mb=0.05,  # about 700 ticks
        buffer_max_ticks=200,
        batch_max_ticks=100,
        known_symbols=symbol,
    )
    proxy.switch("refuse")
    source = f"test:{uuid.uuid4().hex}"
    async with httpx.AsyncClient(
        base_url=running.url, headers=testing.internal_headers(), timeout=30
    ) as client:
        replay = (
            await client.post(
                "/replays",
                json={"series": "EURUSD", "symbol": unique_symbol("BR"), "speed": 0, "limit": 500},
            )
        ).json()

        async def paused() -> bool:
            return (await json_of(client, f"/replays/{replay['replay_id']}"))["state"] == "paused"

        await eventually(paused)
        refused = await client.post(
            "/ticks", json={"ticks": [{"symbol": symbol, "ts_ms": 1, "price": 1}], "source": source}
        )
        assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
        stats = await json_of(client, "/stats")
        assert stats["backpressure"] is True
        assert stats["outbox"]["spool_bytes"] + stats["outbox"]["memory_bytes"] >= 0.05 * 2**20

        async def spool_degraded() -> bool:  # within a health interval (servicekit.health)
            return (await json_of(client, "/health"))["checks"]["spool"]["status"] == "degraded"

        await eventually(spool_degraded)

        proxy.switch("up")

        async def replay_stored() -> bool:
            state = await json_of(client, f"/replays/{replay['replay_id']}")
            return state["state"] == "done" and state["stored"] == 2000

        await eventually(replay_stored, within=90)
        assert await stored_count(database, replay["source"]) == 2000

        # Producers are taken again once the outbox has drained below its bound: the replay's
        # candles may still be on their way just after its ticks are stored, and a producer
        # told 503 + Retry-After retries, as this one does (nothing is taken while refused).
        async def accepted_again() -> bool:
            answer = await client.post(
                "/ticks",
                json={"ticks": [{"symbol": symbol, "ts_ms": 1, "price": 1}], "source": source},
            )
            assert answer.status_code in (202, 503), answer.text
            return answer.status_code == 202

        await eventually(accepted_again)


async def test_shutdown_sends_what_is_pending(start_bridge, database: httpx.AsyncClient) -> None:
    symbol = unique_symbol("SD")
    # Batches would only be cut after a minute: the shutdown has to cut and send them.
    running = await start_bridge(known_symbols=symbol, batch_max_seconds=60)
    source = f"test:{uuid.uuid4().hex}"
    ticks = [{"symbol": symbol, "ts_ms": 1_700_000_000_000 + i, "price": 3} for i in range(250)]
    async with httpx.AsyncClient(
        base_url=running.url, headers=testing.internal_headers(), timeout=30
    ) as client:
        assert (
            await client.post("/ticks", json={"ticks": ticks, "source": source})
        ).status_code == 202
        assert (await json_of(client, "/stats"))["stored"] == 0
    await running.stop()
    assert await stored_count(database, source) == 250
    assert spool_files(Path(running.settings.spool_dir)) == []
