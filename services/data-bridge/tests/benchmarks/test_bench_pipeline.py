"""data-bridge's hot paths, in process: validating and batching ticks, folding candles, and
fanning one message out to 200 subscribers.

Throughput figures follow from the timings: one round handles ROUND ticks (or one message to
SUBSCRIBERS queues), so ticks per second = ROUND / mean seconds of a round.
"""

import asyncio
import itertools
from pathlib import Path

import orjson
import pytest

from app.core.config import Settings
from app.core.fanout import Hub
from app.core.pipeline import Pipeline, batch_payload
from servicekit.http import ServiceClient

ROUND = 2000  # BATCH_MAX_TICKS of the catalog: one full batch per round
SUBSCRIBERS = 200


def make_pipeline(directory: Path, durable: bool) -> Pipeline:
    """A pipeline whose outbox is never started: nothing leaves the process."""
    settings = Settings(
        environment="test",
        spool_dir=str(directory),
        known_symbols="AAA,BBB",
        durable_intake=durable,
    )
    return Pipeline(settings, ServiceClient("http://127.0.0.1:9"))


@pytest.fixture
def pipeline(tmp_path: Path) -> Pipeline:
    return make_pipeline(tmp_path, durable=False)


def raw_ticks(round_number: int) -> list[dict]:
    base = 1_700_000_000_000 + round_number * ROUND * 1000
    return [
        {
            "symbol": "AAA" if n % 2 else "bbb",
            "ts_ms": base + n * 1000,
            "price": 100 + (n % 50) / 10,
            "volume": n % 7,
        }
        for n in range(ROUND)
    ]


def test_validate_and_batch(benchmark, pipeline: Pipeline) -> None:
    """ROUND raw ticks: validated, queued per source, cut into one serialized batch."""
    rounds = itertools.count()

    def setup():
        pipeline.pending.clear()
        return (raw_ticks(next(rounds)),), {}

    def validate_and_batch(raws: list[dict]) -> bytes:
        tally = pipeline.admit_raw(raws, "bench")
        assert tally.accepted == ROUND
        return orjson.dumps(batch_payload("bench-1", "bench", pipeline.pending["bench"]))

    body = benchmark.pedantic(validate_and_batch, setup=setup, rounds=30, warmup_rounds=2)
    assert len(orjson.loads(body)["ticks"]) == ROUND
    benchmark.extra_info["ticks_per_round"] = ROUND


def test_validate_journal_and_batch(benchmark, tmp_path: Path) -> None:
    """The same round, durable: journaled and fsync'd before it counts (compare with
    test_validate_and_batch, measured in the same run: the ratio is durability's cost)."""
    pipeline = make_pipeline(tmp_path, durable=True)
    loop = asyncio.new_event_loop()
    rounds = itertools.count()
    pipeline.journal.recover()

    def setup():
        pipeline.pending.clear()
        return (raw_ticks(next(rounds)),), {}

    async def durable(raws: list[dict]) -> bytes:
        tally = pipeline.admit_raw(raws, "bench")
        await pipeline.journal.commit()
        assert tally.accepted == ROUND
        return orjson.dumps(batch_payload("bench-1", "bench", pipeline.pending["bench"]))

    try:
        body = benchmark.pedantic(
            lambda raws: loop.run_until_complete(durable(raws)),
            setup=setup,
            rounds=30,
            warmup_rounds=2,
        )
    finally:
        pipeline.journal.close()
        loop.close()
    assert len(orjson.loads(body)["ticks"]) == ROUND
    benchmark.extra_info["ticks_per_round"] = ROUND
    benchmark.extra_info["fsyncs"] = pipeline.journal.fsyncs


def test_fold_candles(benchmark, pipeline: Pipeline) -> None:
    """One flush of ROUND ticks into 1m/5m/1h/1d candles (one pandas aggregation)."""
    rounds = itertools.count()
    builder = pipeline.candles

    def setup():
        for raw in raw_ticks(next(rounds)):
            builder.add(raw["symbol"].upper(), raw["ts_ms"], raw["price"], raw["volume"])
        return (), {}

    candles = benchmark.pedantic(builder.flush, setup=setup, rounds=30, warmup_rounds=2)
    assert {c.interval for c in candles} == {"1m", "5m", "1h", "1d"}
    benchmark.extra_info["ticks_per_round"] = ROUND


def test_fan_out_to_200_subscribers(benchmark) -> None:
    """One tick queued for 200 subscribers (serialized once; drop-oldest past the queue)."""
    hub = Hub(queue_size=256, max_subscribers=SUBSCRIBERS)

    async def discard(text: str) -> None:
        return None

    for _ in range(SUBSCRIBERS):
        hub.subscribe(hub.add(discard), [("ticks", "AAA")])
    message = {"type": "tick", "symbol": "AAA", "ts_ms": 1, "price": 1.5, "volume": 2.0}
    delivered = benchmark(hub.publish, "ticks", "AAA", message)
    assert delivered == SUBSCRIBERS
    benchmark.extra_info["subscribers"] = SUBSCRIBERS


def test_fan_out_and_deliver_to_200_subscribers(benchmark) -> None:
    """One tick queued for 200 subscribers and sent by each one's sender task (the sockets'
    send is a no-op here: what is measured is the queueing and the 200 task wake-ups)."""
    loop = asyncio.new_event_loop()
    hub = Hub(queue_size=256, max_subscribers=SUBSCRIBERS)
    sent = [0]

    async def count(text: str) -> None:
        sent[0] += 1

    subscribers = [hub.add(count) for _ in range(SUBSCRIBERS)]
    for subscriber in subscribers:
        hub.subscribe(subscriber, [("ticks", "AAA")])
    senders = [loop.create_task(subscriber.run()) for subscriber in subscribers]
    message = {"type": "tick", "symbol": "AAA", "ts_ms": 1, "price": 1.5, "volume": 2.0}

    async def drained() -> None:
        while any(subscriber.queue for subscriber in subscribers):  # noqa: ASYNC110 - spin: no event per queue
            await asyncio.sleep(0)

    def publish_and_deliver() -> None:
        hub.publish("ticks", "AAA", message)
        loop.run_until_complete(drained())

    try:
        benchmark(publish_and_deliver)
        assert sent[0] % SUBSCRIBERS == 0 and sent[0] > 0 and hub.dropped == 0
    finally:
        for subscriber in subscribers:
            hub.remove(subscriber)
        loop.run_until_complete(asyncio.gather(*senders))
        loop.close()
    benchmark.extra_info["subscribers"] = SUBSCRIBERS
