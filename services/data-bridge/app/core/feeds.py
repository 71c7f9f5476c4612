"""Upstream WebSocket feeds: connect, read JSON ticks, reconnect with backoff.

A message is one tick object, a list of them, or `{"ticks": [...]}`; other objects that carry a
`type` but no `price` (heartbeats, hellos) are ignored. A message over FEED_MAX_MESSAGE_BYTES is
rejected as `oversized` and the feed goes on; a frame over 16 times that is refused by the
WebSocket layer, which closes the connection (counted as `oversized` too) and we reconnect.
JSON that does not parse is `bad_json` (NaN and Infinity literals parse, and their ticks are
then rejected as `not_finite`).

Backpressure: while the outbox is full the feed stops reading; the WebSocket's own receive
buffer fills and TCP flow control slows the upstream down.
Reconnects back off exponentially (with jitter) from FEED_BACKOFF_INITIAL to FEED_BACKOFF_MAX,
starting afresh after a connection that delivered messages.
"""

import asyncio
import json
import logging
import random
import time
import uuid
from dataclasses import dataclass, field

import orjson
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from app.core.config import Settings
from app.core.pipeline import Pipeline, Tally, TooManyError

log = logging.getLogger("data-bridge.feeds")

HARD_FRAME_FACTOR = 16
CLOSE_MESSAGE_TOO_BIG = 1009


@dataclass
class Feed:
    feed_id: str
    url: str
    symbols: list[str]
    state: str = "connecting"
    connects: int = 0
    messages: int = 0
    ignored: int = 0
    last_error: str | None = None
    tally: Tally = field(default_factory=Tally)
    created_at: float = field(default_factory=time.time)
    task: asyncio.Task | None = None

    @property
    def source(self) -> str:
        return f"feed:{self.feed_id}"


def decode(message: str | bytes) -> object:
    """Parse JSON; the stricter fast parser first, the standard one for NaN/Infinity."""
    try:
        return orjson.loads(message)
    except orjson.JSONDecodeError:
        return json.loads(message)


def _size(message: str | bytes) -> int:
    if isinstance(message, str) and not message.isascii():
        return len(message.encode())
    return len(message)


def ticks_of(data: object) -> list | None:
    """The raw ticks a decoded message carries; None for control messages."""
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        if isinstance(data.get("ticks"), list):
            return data["ticks"]
        if "type" in data and "price" not in data:
            return None
    return [data]


class FeedManager:
    """Runs one reader task per feed."""

    def __init__(self, pipeline: Pipeline, settings: Settings) -> None:
        self.pipeline = pipeline
        self.settings = settings
        self.feeds: dict[str, Feed] = {}

    def add(self, url: str, symbols: list[str]) -> Feed:
        """Declare the feed's symbols and start reading (ValueError, TooManyError)."""
        if len(self.feeds) >= self.settings.max_feeds:
            raise TooManyError(f"at most {self.settings.max_feeds} feeds may run at once")
        declared = self.pipeline.registry.declare(symbols)
        feed = Feed(uuid.uuid4().hex[:12], url, declared)
        feed.task = asyncio.create_task(self._run(feed), name=feed.source)
        self.feeds[feed.feed_id] = feed
        return feed

    async def remove(self, feed: Feed) -> None:
        self.feeds.pop(feed.feed_id, None)
        if feed.task is not None:
            feed.task.cancel()
            await asyncio.gather(feed.task, return_exceptions=True)
        feed.state = "stopped"

    async def stop_all(self) -> None:
        for feed in list(self.feeds.values()):
            await self.remove(feed)

    async def _run(self, feed: Feed) -> None:
        s = self.settings
        delay = s.feed_backoff_initial
        while True:
            feed.state = "connecting"
            delivered = feed.messages
            try:
                async with connect(
                    feed.url,
                    max_size=s.feed_max_message_bytes * HARD_FRAME_FACTOR,
                    open_timeout=10,
                    close_timeout=2,
                    proxy=None,
                ) as socket:
                    feed.state, feed.last_error = "connected", None
                    feed.connects += 1
                    await self._read(feed, socket)
                feed.last_error = "upstream closed the connection"
            except ConnectionClosed as exc:
                feed.last_error = f"connection closed: {exc}"
                if exc.sent is not None and exc.sent.code == CLOSE_MESSAGE_TOO_BIG:
                    self.pipeline.reject("oversized", feed.tally)
            except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as exc:
                feed.last_error = f"{type(exc).__name__}: {exc}"
            except Exception as exc:  # a feed must outlive anything one connection does
                log.exception("feed %s failed", feed.feed_id)
                feed.last_error = f"{type(exc).__name__}: {exc}"
            if feed.messages > delivered:
                delay = s.feed_backoff_initial
            feed.state = "backoff"
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))  # noqa: S311 - jitter only
            delay = min(delay * 2, s.feed_backoff_max)

    async def _read(self, feed: Feed, socket) -> None:
        pipeline = self.pipeline
        limit = self.settings.feed_max_message_bytes
        async for message in socket:
            if pipeline.outbox.full():
                feed.state = "paused"
                await pipeline.outbox.wait_room()
                feed.state = "connected"
            feed.messages += 1
            if _size(message) > limit:
                pipeline.reject("oversized", feed.tally)
                continue
            try:
                data = decode(message)
            except (ValueError, RecursionError):
                pipeline.reject("bad_json", feed.tally)
                continue
            raw_ticks = ticks_of(data)
            if raw_ticks is None:
                feed.ignored += 1
                continue
            await pipeline.ingest(raw_ticks, feed.source, feed.tally)

    def public(self, feed: Feed) -> dict:
        return {
            "feed_id": feed.feed_id,
            "url": feed.url,
            "source": feed.source,
            "symbols": feed.symbols,
            "state": feed.state,
            "connects": feed.connects,
            "messages": feed.messages,
            "ignored": feed.ignored,
            **feed.tally.public(),
            "stored": self.pipeline.outbox.stored_by_source[feed.source],
            "last_error": feed.last_error,
            "created_at": feed.created_at,
        }
