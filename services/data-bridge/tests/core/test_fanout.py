"""Fan-out policy: a slow subscriber loses its oldest messages (and is told), nobody waits."""

import asyncio

import orjson

from app.core.fanout import Hub


class Socket:
    """A subscriber's connection: records what it was sent; `gate` can hold every send."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.waiting = asyncio.Event()

    async def send(self, text: str) -> None:
        if not self.gate.is_set():
            self.waiting.set()
            await self.gate.wait()
        self.received.append(orjson.loads(text))


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def test_slow_subscriber_gets_a_gap_and_the_fast_one_everything() -> None:
    hub = Hub(queue_size=5, max_subscribers=10)
    fast, slow = Socket(), Socket()
    subscribers = [hub.add(fast.send), hub.add(slow.send)]
    for subscriber in subscribers:
        hub.subscribe(subscriber, [("ticks", "AAA")])
    senders = [asyncio.create_task(s.run()) for s in subscribers]
    slow.gate.clear()
    hub.publish("ticks", "AAA", {"n": 0})
    await asyncio.wait_for(slow.waiting.wait(), 5)  # message 0 is stuck in the slow socket
    for n in range(1, 31):
        hub.publish("ticks", "AAA", {"n": n})
        await asyncio.sleep(0)
    await settle()
    assert [m["n"] for m in fast.received] == list(range(31))
    assert hub.dropped == 30 - 5
    slow.gate.set()
    await settle()
    assert slow.received == [
        {"n": 0},
        {"type": "gap", "dropped": 25},
        *({"n": n} for n in range(26, 31)),
    ]
    assert subscribers[1].dropped == 25 and subscribers[0].dropped == 0
    for subscriber in subscribers:
        hub.remove(subscriber)
    await asyncio.wait_for(asyncio.gather(*senders), 5)
    assert len(hub) == 0


async def test_routing_by_channel_and_symbol() -> None:
    hub = Hub(queue_size=100, max_subscribers=10)
    only_aaa, everything, candles = Socket(), Socket(), Socket()
    subs = [hub.add(s.send) for s in (only_aaa, everything, candles)]
    hub.subscribe(subs[0], [("ticks", "AAA")])
    hub.subscribe(subs[1], [("ticks", "*")])
    hub.subscribe(subs[2], [("candles:1m", "BBB")])
    senders = [asyncio.create_task(s.run()) for s in subs]
    assert hub.wants("ticks", "ZZZ") and not hub.wants("candles:5m", "BBB")
    hub.publish("ticks", "AAA", {"s": "AAA"})
    hub.publish("ticks", "BBB", {"s": "BBB"})
    hub.publish("candles:1m", "BBB", {"c": "BBB"})
    hub.publish("candles:1h", "BBB", {"c": "1h"})
    await settle()
    assert only_aaa.received == [{"s": "AAA"}]
    assert everything.received == [{"s": "AAA"}, {"s": "BBB"}]
    assert candles.received == [{"c": "BBB"}]
    hub.unsubscribe(subs[0], [("ticks", "AAA")])
    assert hub.publish("ticks", "AAA", {"s": "again"}) == 1  # the wildcard subscriber only
    for subscriber in subs:
        hub.remove(subscriber)
    await asyncio.gather(*senders)
    assert not hub.wants("ticks", "AAA")


def test_subscriber_limit() -> None:
    hub = Hub(queue_size=1, max_subscribers=2)
    hub.add(Socket().send)
    assert not hub.full()
    hub.add(Socket().send)
    assert hub.full()
