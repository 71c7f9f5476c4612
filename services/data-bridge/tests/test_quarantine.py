"""Batches storage breaks on: quarantined with a reason, counted, reported by /health across
restarts, and never in the way of the batches behind them."""

import uuid
from pathlib import Path

import httpx
import orjson

import servicekit_testing as testing
from tests.utils import SwitchableProxy, eventually, unique_symbol

BASE_MS = 1_700_000_000_000


async def stats_of(client: httpx.AsyncClient) -> dict:
    return (await client.get("/stats")).json()


def ticks_for(symbol: str, start: int, count: int) -> list[dict]:
    return [{"symbol": symbol, "ts_ms": BASE_MS + start + i, "price": 4.5} for i in range(count)]


async def test_a_batch_storage_breaks_on_is_quarantined_and_reported(
    start_bridge, proxy: SwitchableProxy, database: httpx.AsyncClient, tmp_path: Path
) -> None:
    symbol, spool = unique_symbol("PB"), tmp_path / "poison-spool"
    source = f"test:{uuid.uuid4().hex}"
    running = await start_bridge(
        database_service_url=proxy.url,
        spool_dir=spool,
        known_symbols=symbol,
        poison_after_failures=2,
        storage_retry_max_seconds=0.05,
    )
    proxy.switch("500")  # database-service breaks on every batch it is sent
    async with httpx.AsyncClient(
        base_url=running.url, headers=testing.internal_headers(), timeout=30
    ) as client:
        posted = await client.post("/ticks", json={"ticks": ticks_for(symbol, 0, 20)})
        assert posted.json()["accepted"] == 20

        async def quarantined() -> bool:
            stats = await stats_of(client)
            return stats["pending"] == 0 and stats["quarantine"]["batches"] >= 2

        await eventually(quarantined)  # the tick batch and its candle batch
        stats = await stats_of(client)
        assert stats["batches"]["rejected"] == stats["quarantine"]["poisoned"] >= 2
        assert stats["quarantine"]["bytes"] > 0
        (batch_file,) = (spool / "rejected").glob("*.ticks.20.json")
        reason = orjson.loads(batch_file.with_name(batch_file.stem + ".reason.json").read_bytes())
        assert reason["status"] == 500 and "proxy says no" in reason["answer"]

        async def reported() -> bool:  # within a health interval (servicekit.health)
            health = (await client.get("/health")).json()
            return health["checks"]["quarantine"]["status"] == "degraded"

        await eventually(reported)
        health = (await client.get("/health")).json()
        assert "quarantined" in health["checks"]["quarantine"]["detail"]

        proxy.switch("up")  # the batches behind the quarantined ones flow
        later = {"ticks": ticks_for(symbol, 1000, 30), "source": source}
        assert (await client.post("/ticks", json=later)).json()["accepted"] == 30

        async def stored() -> bool:
            return (await stats_of(client))["stored"] == 30

        await eventually(stored)
    count = await database.get("/market/ticks/count", params={"source": source})
    assert count.json()["count"] == 30
    await running.stop()

    again = await start_bridge(spool_dir=spool)  # a restart: still reported, nothing resent
    async with httpx.AsyncClient(
        base_url=again.url, headers=testing.internal_headers(), timeout=30
    ) as client:
        stats = await stats_of(client)
        assert stats["batches"]["rejected"] == 0
        assert stats["quarantine"]["batches"] >= 2 and stats["pending"] == 0
        health = (await client.get("/health")).json()
        assert health["status"] == "degraded"
        assert health["checks"]["quarantine"]["status"] == "degraded"
