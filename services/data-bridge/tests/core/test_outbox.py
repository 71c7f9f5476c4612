"""The outbox against a storage double that follows database-service's contract (idempotent
batch ids) and fails on demand: order, exactly-once, spill, backpressure, restart."""

import asyncio
import itertools
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from app.core.outbox import Outbox
from app.core.spool import Spool
from servicekit.http import ServiceClient


class Storage:
    """database-service's /market/ticks and /market/candles semantics, in memory."""

    def __init__(self) -> None:
        self.batches: dict[str, int] = {}
        self.order: list[str] = []
        self.candle_posts = 0
        self.failures: list[str] = []  # what the next calls do: "503", "refuse", "lost"

    async def handle(self, request: httpx.Request) -> httpx.Response:
        body = orjson.loads(request.content)
        mode = self.failures.pop(0) if self.failures else "ok"
        if mode == "refuse":
            raise httpx.ConnectError("connection refused", request=request)
        if mode == "503":
            return httpx.Response(503, json={"detail": "clickhouse down"})
        if request.url.path == "/market/candles":
            self.candle_posts += 1
            return httpx.Response(200, json={"upserted": len(body["candles"])})
        if len(body["ticks"]) == 0:
            return httpx.Response(422, json={"detail": "1-50,000 ticks"})
        batch_id = body["batch_id"]
        duplicate = batch_id in self.batches
        if not duplicate:
            self.batches[batch_id] = len(body["ticks"])
            self.order.append(batch_id)
        if mode == "lost":  # stored, but the answer never arrives: an unknown outcome
            raise httpx.ReadTimeout("timed out", request=request)
        return httpx.Response(
            200,
            json={
                "batch_id": batch_id,
                "ticks": len(body["ticks"]),
                "inserted": 0 if duplicate else len(body["ticks"]),
                "duplicate": duplicate,
            },
        )


def client_for(storage: Storage) -> ServiceClient:
    client = ServiceClient("http://storage.test", attempts=1)
    client.http = httpx.AsyncClient(
        base_url="http://storage.test", transport=httpx.MockTransport(storage.handle)
    )
    return client


def make_outbox(directory: Path, storage: Storage, **limits) -> Outbox:
    outbox = Outbox(
        Spool(directory),
        client_for(storage),
        buffer_max_records=limits.get("buffer", 1000),
        max_bytes=limits.get("max_bytes", 10_000_000),
        retry_max_seconds=0.01,
        **({"poison_after_failures": limits["poison"]} if "poison" in limits else {}),
    )
    outbox.open()
    return outbox


def files(directory: Path, pattern: str = "*.json") -> list[str]:
    return sorted(path.name for path in directory.glob(pattern))


def batch(n: int, ticks: int = 10) -> dict:
    return {
        "batch_id": f"b-{n}",
        "source": "test",
        "ticks": [{"symbol": "AAA", "ts_ms": i, "price": 1.0, "volume": 1.0} for i in range(ticks)],
    }


async def wait_until(condition) -> None:
    async with asyncio.timeout(10):
        while not condition():  # noqa: ASYNC110 - the condition spans several objects
            await asyncio.sleep(0.005)


async def test_failures_spill_to_disk_then_flush_in_order_exactly_once(tmp_path: Path) -> None:
    storage = Storage()
    storage.failures = ["refuse", "503", "lost"] + ["503"] * 20
    outbox = make_outbox(tmp_path, storage, buffer=25)
    outbox.start()
    for n in range(12):
        await outbox.put("ticks", batch(n), 10, source="test")
    assert outbox.counters["spilled_batches"] >= 9  # memory keeps at most 25 ticks
    assert len(files(tmp_path, "*.ticks.10.json")) >= 9
    await wait_until(lambda: len(outbox) == 0)
    assert storage.order == [f"b-{n}" for n in range(12)]
    assert outbox.counters["stored"] == 120 == sum(storage.batches.values())
    assert outbox.stored_by_source["test"] == 120
    assert outbox.counters["duplicate_batches"] == 1  # the "lost" answer, resent
    assert outbox.storage_up is True
    assert files(tmp_path) == []
    await outbox.stop(1)


async def test_stop_spools_memory_and_a_restart_sends_it_first(tmp_path: Path) -> None:
    storage = Storage()
    storage.failures = ["refuse"] * 1000
    first = make_outbox(tmp_path, storage)
    first.start()
    for n in range(3):
        await first.put("ticks", batch(n), 10, source="old")
    await first.put("candles", {"candles": [{"symbol": "AAA"}]}, 1)
    await wait_until(lambda: first.storage_up is False)
    await first.stop(flush_seconds=5)  # storage is down: spools at once
    names = files(tmp_path)
    assert [name.split(".", 1)[1] for name in names] == ["ticks.10.json"] * 3 + ["candles.1.json"]

    storage.failures = []
    second = make_outbox(tmp_path, storage)
    assert second.spooled_ticks() == 30
    await second.put("ticks", batch(99), 10, source="new")
    second.start()
    await wait_until(lambda: len(second) == 0)
    assert storage.order == ["b-0", "b-1", "b-2", "b-99"]
    assert storage.candle_posts == 1
    assert second.counters["stored"] == 40
    await second.stop(1)


async def test_full_holds_producers_back_until_storage_returns(tmp_path: Path) -> None:
    storage = Storage()
    storage.failures = ["503"] * 30
    size = len(orjson.dumps(batch(0)))
    outbox = make_outbox(tmp_path, storage, max_bytes=3 * size, buffer=15)
    outbox.start()
    for n in range(3):
        await outbox.put("ticks", batch(n), 10)
    assert outbox.full()
    waiter = asyncio.create_task(outbox.wait_room())
    await asyncio.sleep(0.05)
    assert not waiter.done()
    await asyncio.wait_for(waiter, 10)  # failures run out, batches drain
    assert not outbox.full()
    await wait_until(lambda: len(outbox) == 0)
    assert outbox.counters["stored"] == 30
    await outbox.stop(1)


async def test_a_refused_batch_is_quarantined_not_resent(tmp_path: Path) -> None:
    storage = Storage()
    outbox = make_outbox(tmp_path, storage)
    outbox.start()
    await outbox.put("ticks", batch(0, ticks=0), 0)
    await outbox.put("ticks", batch(1), 10)
    await wait_until(lambda: len(outbox) == 0)
    assert outbox.counters["rejected_batches"] == 1
    assert storage.order == ["b-1"]
    (batch_file,) = files(tmp_path / "rejected", "*.ticks.0.json")
    reason = orjson.loads((tmp_path / "rejected" / reason_name(batch_file)).read_bytes())
    assert reason["status"] == 422 and "1-50,000 ticks" in reason["answer"]
    assert outbox.quarantine_stats()["batches"] == 1
    await outbox.stop(1)


def reason_name(batch_file: str) -> str:
    return batch_file.removesuffix(".json") + ".reason.json"


def scripted(
    storage: Storage, scripts: dict[str, Iterator]
) -> tuple[httpx.AsyncClient, Counter[str]]:
    """A client to `storage`, except that a batch named in `scripts` first gets the answers
    its iterator yields (a status, "timeout" or "refuse"), then storage's own. Also returns
    the count of requests per batch id."""
    sent: Counter[str] = Counter()

    async def handle(request: httpx.Request) -> httpx.Response:
        batch_id = orjson.loads(request.content).get("batch_id", "candles")
        sent[batch_id] += 1
        answer = next(scripts.get(batch_id, iter(())), None)
        if answer == "timeout":
            raise httpx.ReadTimeout("timed out", request=request)
        if answer == "refuse":
            raise httpx.ConnectError("connection refused", request=request)
        if answer is not None:
            return httpx.Response(answer, text=f"boom {answer} " + "x" * 5000)
        return await storage.handle(request)

    transport = httpx.MockTransport(handle)
    return httpx.AsyncClient(base_url="http://storage.test", transport=transport), sent


@pytest.mark.parametrize("buffer", [1000, 5], ids=["in-memory", "spooled"])
async def test_a_batch_answered_500_again_and_again_is_quarantined_and_later_ones_flow(
    tmp_path: Path, buffer: int
) -> None:
    storage = Storage()
    outbox = make_outbox(tmp_path, storage, buffer=buffer, poison=3)
    outbox.client.http, sent = scripted(storage, {"b-1": itertools.repeat(500)})
    outbox.start()
    for n in range(4):
        await outbox.put("ticks", batch(n), 10)
    await wait_until(lambda: len(outbox) == 0)
    assert storage.order == ["b-0", "b-2", "b-3"]
    assert sent["b-1"] == 3  # POISON_AFTER_FAILURES answers in a row
    assert outbox.counters["rejected_batches"] == 1
    (batch_file,) = files(tmp_path / "rejected", "*.ticks.10.json")
    assert orjson.loads((tmp_path / "rejected" / batch_file).read_bytes())["batch_id"] == "b-1"
    reason = orjson.loads((tmp_path / "rejected" / reason_name(batch_file)).read_bytes())
    assert reason["status"] == 500 and reason["answer"].startswith("boom 500")
    assert len(reason["answer"]) < 1000 and reason["at"]
    assert outbox.quarantine_stats()["batches"] == 1
    assert files(tmp_path) == []
    await outbox.stop(1)


async def test_storage_away_is_retried_forever_and_quarantines_nothing(tmp_path: Path) -> None:
    storage = Storage()
    outbox = make_outbox(tmp_path, storage, poison=2)
    # ClickHouse down (503), proxies (502/504), timeouts, refused connections: far more than
    # POISON_AFTER_FAILURES of each. 500s that are not in a row do not add up either.
    away = [503] * 10 + [502, 504, "timeout", "refuse"] * 3 + [500, 503, 500, "timeout"] * 3
    outbox.client.http, sent = scripted(storage, {"b-0": iter(away)})
    outbox.start()
    for n in range(3):
        await outbox.put("ticks", batch(n), 10)
    await wait_until(lambda: len(outbox) == 0)
    assert storage.order == ["b-0", "b-1", "b-2"]
    assert sent["b-0"] == len(away) + 1
    assert outbox.counters["rejected_batches"] == 0
    assert not (tmp_path / "rejected").exists() or files(tmp_path / "rejected") == []
    assert outbox.quarantine_stats()["batches"] == 0
    await outbox.stop(1)
