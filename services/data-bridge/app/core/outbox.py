"""Delivery of batches to database-service: in order, each exactly once, never dropped.

The outbox is one queue in two parts: the spool on disk (older batches) followed by memory
(newer ones). The writer always sends the head and removes it only once database-service has
answered 200 (inserted, or `duplicate` when an earlier attempt with an unknown outcome had in
fact landed). When memory holds more than BUFFER_MAX_TICKS records, its oldest batches move to
the tail of the spool, which keeps the order: everything on disk is older than anything in
memory.

What an answer says about the head:
- storage is away (connection errors, timeouts, 502/503/504: database-service answers 503
  while ClickHouse is down) or our configuration is at fault (RETRY_STATUSES): retried with
  backoff, forever. An outage never quarantines anything;
- the batch itself can never be stored: another 4xx, or 500 (or another 5xx) answered
  POISON_AFTER_FAILURES times in a row. The batch moves to the spool's rejected/ directory
  with a reason file, is counted, and the batches behind it flow.

Memory plus disk is bounded by SPOOL_MAX_MB (2 x BUFFER_MAX_TICKS records in memory if the disk
cannot be written): past it `full()` is true and producers hold back (replays pause, feeds stop
reading, POST /ticks answers 503). Nothing is dropped.
"""

import asyncio
import contextlib
import logging
from collections import Counter, deque
from collections.abc import Callable

import httpx
import orjson

from app.core.spool import REJECTED_DIR, Item, Spool
from servicekit.http import ServiceClient

log = logging.getLogger("data-bridge.outbox")

PATHS = {"ticks": "/market/ticks", "candles": "/market/candles"}
# Answers that say nothing about the batch itself (storage or our configuration is at fault):
# keep it and retry. Any other 4xx means the batch can never be stored as it is.
RETRY_STATUSES = frozenset({401, 403, 404, 408, 425, 429})
# Storage (or a proxy in front of it) is away: never the batch's fault.
AWAY_STATUSES = frozenset({502, 503, 504})


class Outbox:
    """Spool + memory queue and the writer task that empties it."""

    def __init__(
        self,
        spool: Spool,
        client: ServiceClient,
        *,
        buffer_max_records: int,
        max_bytes: int,
        retry_max_seconds: float,
        poison_after_failures: int = 5,
    ) -> None:
        self.spool = spool
        self.client = client
        self.buffer_max_records = buffer_max_records
        self.max_bytes = max_bytes
        self.retry_max_seconds = retry_max_seconds
        self.poison_after_failures = poison_after_failures
        # The batch the last answers were server errors for, and how many in a row.
        self._server_errors: tuple[Item | None, int] = (None, 0)
        self.spooled: deque[Item] = deque()
        self.memory: deque[Item] = deque()
        self.memory_records = 0
        self.memory_bytes = 0
        self.counters: Counter[str] = Counter()
        self.stored_by_source: Counter[str] = Counter()
        self.storage_up: bool | None = None
        self.last_error: str | None = None
        self._wakeup = asyncio.Event()
        self._empty = asyncio.Event()
        self._room = asyncio.Event()
        self._spill_lock = asyncio.Lock()
        self._writer: asyncio.Task | None = None
        # Told once per batch put here, when it is durable without the journal: stored,
        # quarantined or written to the spool (the pipeline lets the journal forget it).
        self.on_durable: Callable[[Item], None] = lambda item: None

    # -- state ---------------------------------------------------------------------------

    def open(self) -> None:
        """Index the spool a previous run left: it is sent before anything new."""
        self.spooled.extend(self.spool.open())
        self._update_events()

    def full(self) -> bool:
        """True while producers must hold back."""
        return (
            self.memory_bytes + self.spool.bytes >= self.max_bytes
            or self.memory_records >= 2 * self.buffer_max_records
        )

    def pending_ticks(self) -> int:
        return sum(item.count for item in self.memory if item.kind == "ticks") + sum(
            item.count for item in self.spooled if item.kind == "ticks"
        )

    def spooled_ticks(self) -> int:
        return sum(item.count for item in self.spooled if item.kind == "ticks")

    def quarantine_stats(self) -> dict:
        """What rejected/ holds (this run's and earlier runs') and this run's poisoned."""
        batches, size = self.spool.rejected_on_disk()
        return {
            "batches": batches,
            "bytes": size,
            "poisoned": self.counters["poisoned_batches"],
            "directory": str(self.spool.directory / REJECTED_DIR),
        }

    def __len__(self) -> int:
        return len(self.memory) + len(self.spooled)

    def _update_events(self) -> None:
        if len(self) == 0:
            self._empty.set()
        else:
            self._empty.clear()
        if self.full():
            self._room.clear()
        else:
            self._room.set()

    async def wait_room(self) -> None:
        """Return once producers may go on (at once unless `full()`)."""
        while self.full():
            self._room.clear()
            await self._room.wait()

    async def wait_empty(self) -> None:
        while len(self):
            await self._empty.wait()

    # -- producers -----------------------------------------------------------------------

    async def put(
        self,
        kind: str,
        payload: dict,
        count: int,
        source: str | None = None,
        segment: str | None = None,
    ) -> None:
        """Queue one batch (serialized once, here) and spill memory past its limit."""
        body = orjson.dumps(payload)
        item = Item(kind, count, len(body), body=body, source=source, segment=segment)
        self.memory.append(item)
        self.memory_records += count
        self.memory_bytes += len(body)
        self._update_events()
        self._wakeup.set()
        if self.memory_records > self.buffer_max_records:
            await self.spill(self.buffer_max_records)

    async def spill(self, keep_records: int) -> None:
        """Move the oldest memory batches to the spool until memory holds <= keep_records."""
        async with self._spill_lock:
            while self.memory and self.memory_records > keep_records:
                item = self.memory[0]
                try:
                    path = await self.spool.write(item)
                except OSError as exc:
                    self.counters["spool_errors"] += 1
                    log.error("cannot write the spool %s: %s", self.spool.directory, exc)
                    return
                if self.memory and self.memory[0] is item:
                    self.memory.popleft()
                    self._forget_memory(item)
                    item.path, item.body = path, None
                    self.spooled.append(item)
                    self.counters["spilled_batches"] += 1
                    self.on_durable(item)
                else:
                    # The writer stored it while it was being written: the copy is not needed.
                    item.path = path
                    self.spool.remove(item)
                self._update_events()

    def _forget_memory(self, item: Item) -> None:
        self.memory_records -= item.count
        self.memory_bytes -= item.size

    # -- the writer ----------------------------------------------------------------------

    def start(self) -> None:
        self._writer = asyncio.create_task(self._run(), name="outbox-writer")

    async def stop(self, flush_seconds: float) -> None:
        """Send what storage takes within `flush_seconds`, then spool the rest of memory."""
        if self._writer is not None:
            if self.storage_up is not False and flush_seconds > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wait_empty(), flush_seconds)
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
            self._writer = None
        await self.spill(0)

    def head(self) -> Item | None:
        if self.spooled:
            return self.spooled[0]
        return self.memory[0] if self.memory else None

    async def _run(self) -> None:
        failures = 0
        while True:
            item = self.head()
            if item is None:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            try:
                outcome = await self._deliver(item)
            except Exception:  # the writer must outlive any one failure: keep the batch
                log.exception("sending a %s batch failed unexpectedly", item.kind)
                self.counters["send_failures"] += 1
                outcome = "retry"
            if outcome == "retry":
                failures += 1
                await asyncio.sleep(min(self.retry_max_seconds, 0.05 * 2 ** min(failures, 10)))
                continue
            failures = 0
            self._remove(item)

    async def _deliver(self, item: Item) -> str:
        """Send one batch: "stored", "rejected" (quarantined) or "retry"."""
        try:
            body = item.body if item.body is not None else await self.spool.read(item)
        except FileNotFoundError:
            # Deleted by hand: nothing left to send (and nothing to keep).
            log.error("spooled batch %s vanished; %d %s lost", item.path, item.count, item.kind)
            self.counters["vanished_batches"] += 1
            return "rejected"
        try:
            response = await self.client.post(
                PATHS[item.kind], content=body, headers={"content-type": "application/json"}
            )
        except httpx.HTTPError as exc:
            self._server_errors = (None, 0)
            return self._failed(f"{type(exc).__name__}: {exc}")
        status = response.status_code
        if status >= 500 and status not in AWAY_STATUSES:
            return self._server_error(item, body, response)
        self._server_errors = (None, 0)  # "in a row" ends with any other answer
        if status in AWAY_STATUSES or status in RETRY_STATUSES:
            return self._failed(f"{PATHS[item.kind]} answered {status}")
        if status != 200:
            return self._quarantine(item, body, response, f"refused ({status})")
        self.storage_up, self.last_error = True, None
        self._count_stored(item, response)
        return "stored"

    def _server_error(self, item: Item, body: bytes, response: httpx.Response) -> str:
        """Retry a 500-like answer, or quarantine the batch once it got POISON_AFTER_FAILURES.

        A 500 may be a passing fault of storage or a batch that breaks it every time; the same
        batch answered so again and again, with nothing else in between, is the latter."""
        last, count = self._server_errors
        count = count + 1 if last is item else 1
        self._server_errors = (item, count)
        if count < self.poison_after_failures:
            return self._failed(f"{PATHS[item.kind]} answered {response.status_code}")
        why = f"answered {response.status_code} {count} times in a row"
        outcome = self._quarantine(item, body, response, why)
        self.counters["poisoned_batches"] += 1
        return outcome

    def _quarantine(self, item: Item, body: bytes, response: httpx.Response, why: str) -> str:
        """Move the head to rejected/ (an OSError leaves it in place, to be retried)."""
        path = self.spool.quarantine(item, body, response.status_code, response.text)
        log.error("storage %s a %s batch, now %s: %s", why, item.kind, path, response.text[:300])
        self._server_errors = (None, 0)
        self.counters["rejected_batches"] += 1
        return "rejected"

    def _failed(self, reason: str) -> str:
        if self.storage_up is not False:
            log.warning("storage unavailable, buffering: %s", reason)
        self.storage_up, self.last_error = False, reason
        self.counters["send_failures"] += 1
        return "retry"

    def _count_stored(self, item: Item, response: httpx.Response) -> None:
        self.counters[f"{item.kind}_batches"] += 1
        if item.kind == "candles":
            self.counters["candles_upserted"] += item.count
            return
        with contextlib.suppress(ValueError):
            if response.json().get("duplicate"):
                self.counters["duplicate_batches"] += 1
        self.counters["stored"] += item.count
        if item.source is not None:
            self.stored_by_source[item.source] += item.count

    def _remove(self, item: Item) -> None:
        """Take the delivered head out of whichever part holds it now."""
        if self.spooled and self.spooled[0] is item:
            self.spooled.popleft()
            self.spool.remove(item)
        elif self.memory and self.memory[0] is item:
            self.memory.popleft()
            self._forget_memory(item)
            self.on_durable(item)  # stored or quarantined straight from memory
        self._update_events()
