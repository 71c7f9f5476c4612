"""WebSocket fan-out: ticks and candles to subscribers, per symbol and channel.

Slow-subscriber policy: every subscriber has its own bounded queue (FANOUT_QUEUE messages)
drained by its own sender task, so publishing never waits for any socket. When a queue is full
the OLDEST queued message is dropped to make room for the new one: a live view wants the
latest prices, not a backlog. Before the next message it does send, the subscriber receives
`{"type": "gap", "dropped": n}` with the number of messages it lost since the last one it got.
Drops are counted per subscriber and in total (`/stats` reports `dropped`).

Channels are `ticks` and `candles:<interval>`; symbols are names or `*` for all of them.
Each message is serialized once, whoever receives it.
"""

import asyncio
import itertools
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterable

import orjson

log = logging.getLogger("data-bridge.fanout")

WILDCARD = "*"
SendText = Callable[[str], Awaitable[None]]


class Subscriber:
    """One connection's subscriptions, queue and drop counters."""

    def __init__(self, subscriber_id: int, send: SendText, capacity: int) -> None:
        self.id = subscriber_id
        self.send = send
        self.queue: deque[str] = deque()
        self.capacity = capacity
        self.topics: set[tuple[str, str]] = set()
        self.unreported = 0  # dropped since the last gap message
        self.dropped = 0
        self.sent = 0
        self.ready = asyncio.Event()
        self.closed = False

    def offer(self, text: str) -> bool:
        """Queue a message; drop the oldest if full. False when something was dropped."""
        dropped = False
        if len(self.queue) >= self.capacity:
            self.queue.popleft()
            self.unreported += 1
            self.dropped += 1
            dropped = True
        self.queue.append(text)
        self.ready.set()
        return not dropped

    async def run(self) -> None:
        """Send queued messages until closed (the sender task of this subscriber)."""
        while not self.closed:
            await self.ready.wait()
            self.ready.clear()
            while self.queue and not self.closed:
                if self.unreported:
                    gap, self.unreported = self.unreported, 0
                    await self.send(orjson.dumps({"type": "gap", "dropped": gap}).decode())
                    continue  # more may have been dropped while that was sent
                await self.send(self.queue.popleft())
                self.sent += 1


class Hub:
    """Routes published messages to the subscribers of (channel, symbol)."""

    def __init__(self, queue_size: int, max_subscribers: int) -> None:
        self.queue_size = queue_size
        self.max_subscribers = max_subscribers
        self.subscribers: dict[int, Subscriber] = {}
        self._routes: dict[tuple[str, str], set[Subscriber]] = {}
        self._ids = itertools.count(1)
        self.dropped = 0
        self.published = 0

    def __len__(self) -> int:
        return len(self.subscribers)

    def full(self) -> bool:
        return len(self.subscribers) >= self.max_subscribers

    def add(self, send: SendText) -> Subscriber:
        subscriber = Subscriber(next(self._ids), send, self.queue_size)
        self.subscribers[subscriber.id] = subscriber
        return subscriber

    def remove(self, subscriber: Subscriber) -> None:
        subscriber.closed = True
        subscriber.ready.set()
        self.unsubscribe(subscriber, list(subscriber.topics))
        self.subscribers.pop(subscriber.id, None)

    def subscribe(self, subscriber: Subscriber, topics: Iterable[tuple[str, str]]) -> None:
        for topic in topics:
            subscriber.topics.add(topic)
            self._routes.setdefault(topic, set()).add(subscriber)

    def unsubscribe(self, subscriber: Subscriber, topics: Iterable[tuple[str, str]]) -> None:
        for topic in topics:
            subscriber.topics.discard(topic)
            routed = self._routes.get(topic)
            if routed is not None:
                routed.discard(subscriber)
                if not routed:
                    del self._routes[topic]

    def wants(self, channel: str, symbol: str) -> bool:
        """Whether anyone listens: lets producers skip serializing unheard messages."""
        return (channel, symbol) in self._routes or (channel, WILDCARD) in self._routes

    def publish(self, channel: str, symbol: str, message: dict) -> int:
        """Queue `message` for every subscriber of (channel, symbol); how many got it."""
        targets = self._routes.get((channel, symbol), set()) | self._routes.get(
            (channel, WILDCARD), set()
        )
        if not targets:
            return 0
        text = orjson.dumps(message).decode()
        for subscriber in targets:
            if not subscriber.offer(text):
                self.dropped += 1
        self.published += 1
        return len(targets)
