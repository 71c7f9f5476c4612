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

Every connect is checked by the feed policy (app.core.feedpolicy) first and goes to the address
it checked; redirects are not followed (their target was never checked). What a caller sees of
a failure is a generic reason (`last_error`): exception text names addresses and ports of the
network we run in, so it goes to the log only.
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
from app.core.feedpolicy import FeedPolicy, PolicyError, ResolveError
from app.core.pipeline import Pipeline, Tally, TooManyError

log = logging.getLogger("data-bridge.feeds")

HARD_FRAME_FACTOR = 16
CLOSE_MESSAGE_TOO_BIG = 1009
CLOSED = "closed by upstream"
# What one connection attempt may raise besides ConnectionClosed; anything else is a bug.
FAILURES = (PolicyError, ResolveError, OSError, TimeoutError, InvalidHandshake, InvalidURI)


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


def failure(exc: Exception) -> str:
    """The reason a caller is shown for `exc`: one that names no address, port or host."""
    if isinstance(exc, PolicyError):
        return "refused by policy"
    if isinstance(exc, ConnectionClosed):
        too_big = exc.sent is not None and exc.sent.code == CLOSE_MESSAGE_TOO_BIG
        return "closed: message too big" if too_big else CLOSED
    if isinstance(exc, InvalidHandshake):
        return "handshake failed"
    return "connection failed"


class _connect(connect):
    """connect() that follows no redirect: the policy never checked where it points."""

    def process_redirect(self, exc: Exception) -> Exception:
        return exc


class FeedManager:
    """Runs one reader task per feed."""

    def __init__(self, pipeline: Pipeline, settings: Settings) -> None:
        self.pipeline = pipeline
        self.settings = settings
        self.policy = FeedPolicy(settings.feed_host_patterns(), settings.feed_allow_private)
        self.feeds: dict[str, Feed] = {}

    async def add(self, url: str, symbols: list[str]) -> Feed:
        """Check the URL, declare the feed's symbols and start reading.

        Raises PolicyError (a URL the policy refuses), ValueError, TooManyError."""
        self._check_room()
        try:
            await self.policy.target(url)
        except PolicyError as exc:
            log.info("feed refused: %s (%s)", url, exc.detail)
            raise
        except ResolveError:
            pass  # DNS may answer later: the feed retries as after any failed connection
        self._check_room()  # again: other feeds may have been added while this one resolved
        declared = self.pipeline.registry.declare(symbols)
        feed = Feed(uuid.uuid4().hex[:12], url, declared)
        feed.task = asyncio.create_task(self._run(feed), name=feed.source)
        self.feeds[feed.feed_id] = feed
        return feed

    def _check_room(self) -> None:
        if len(self.feeds) >= self.settings.max_feeds:
            raise TooManyError(f"at most {self.settings.max_feeds} feeds may run at once")

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
                target = await self.policy.target(feed.url)  # again: DNS answers change
                async with _connect(
                    feed.url,
                    host=target.address,
                    port=target.port,
                    max_size=s.feed_max_message_bytes * HARD_FRAME_FACTOR,
                    open_timeout=10,
                    close_timeout=2,
                    proxy=None,
                ) as socket:
                    feed.state, feed.last_error = "connected", None
                    feed.connects += 1
                    await self._read(feed, socket)
                feed.last_error = CLOSED
            except ConnectionClosed as exc:
                feed.last_error = failure(exc)
                log.info("feed %s (%s): %r", feed.feed_id, feed.url, exc)
                if exc.sent is not None and exc.sent.code == CLOSE_MESSAGE_TOO_BIG:
                    self.pipeline.reject("oversized", feed.tally)
            except FAILURES as exc:
                feed.last_error = failure(exc)
                detail = exc.detail if isinstance(exc, PolicyError) else repr(exc)
                log.warning("feed %s (%s): %s: %s", feed.feed_id, feed.url, feed.last_error, detail)
            except Exception:  # a feed must outlive anything one connection does
                log.exception("feed %s failed", feed.feed_id)
                feed.last_error = "internal error"
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
