"""The path every tick takes: validate, publish, batch per source, build candles, hand over to
the outbox.

A batch is cut for a source when it holds BATCH_MAX_TICKS ticks, and every source's pending
ticks are cut once the oldest has waited BATCH_MAX_SECONDS; the candles changed by those ticks
are folded at the same moment, so a candle batch never runs ahead of the ticks it summarizes.
Batch ids are `<run id>-<sequence>`: unique across restarts, kept by the spool.
"""

import asyncio
import contextlib
import itertools
import logging
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from app.core.candles import CandleBuilder
from app.core.config import Settings
from app.core.fanout import Hub
from app.core.outbox import Outbox
from app.core.series import SERIES_FILES
from app.core.spool import Spool
from app.core.ticks import SymbolRegistry, Tick, TickValidator
from servicekit.http import ServiceClient

log = logging.getLogger("data-bridge.pipeline")

# Candles per POST /market/candles.
CANDLE_BATCH = 2000


def batch_payload(batch_id: str, source: str, ticks: list[Tick]) -> dict:
    """The body of POST /market/ticks for one batch."""
    return {
        "batch_id": batch_id,
        "source": source,
        "ticks": [
            {"symbol": t.symbol, "ts_ms": t.ts_ms, "price": t.price, "volume": t.volume}
            for t in ticks
        ],
    }


class TooManyError(Exception):
    """More concurrent producers (replays, feeds) than the settings allow."""


@dataclass
class Tally:
    """Accepted and rejected ticks of one producer (a replay, a feed, a request)."""

    accepted: int = 0
    rejected: Counter[str] = field(default_factory=Counter)

    def public(self) -> dict:
        return {"accepted": self.accepted, "rejected": dict(self.rejected)}


class Pipeline:
    """Owns the validator, candle builder, fan-out hub and outbox of the process."""

    def __init__(self, settings: Settings, client: ServiceClient) -> None:
        self.settings = settings
        self.registry = SymbolRegistry(
            [*SERIES_FILES, *settings.declared_symbols()], settings.max_symbols
        )
        self.validator = TickValidator(self.registry, settings.out_of_order_tolerance_ms)
        self.candles = CandleBuilder(settings.out_of_order_tolerance_ms)
        self.hub = Hub(settings.fanout_queue, settings.max_subscribers)
        self.outbox = Outbox(
            Spool(settings.spool_dir),
            client,
            buffer_max_records=settings.buffer_max_ticks,
            max_bytes=settings.spool_max_bytes,
            retry_max_seconds=settings.storage_retry_max_seconds,
        )
        self.totals = Tally()
        self.pending: dict[str, list[Tick]] = {}
        self.pending_count = 0
        self._oldest_pending: float | None = None
        self.run_id = uuid.uuid4().hex[:16]
        self._batch_numbers = itertools.count(1)
        self._cut_lock = asyncio.Lock()
        self._flusher: asyncio.Task | None = None

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        """Send what a previous run spooled first, then whatever comes."""
        self.outbox.open()
        self.outbox.start()
        self._flusher = asyncio.create_task(self._flush_periodically(), name="batch-flusher")

    async def stop(self) -> None:
        """Cut everything pending, send what storage takes in time, spool the rest."""
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        await self.cut()
        await self.outbox.stop(self.settings.shutdown_flush_seconds)

    # -- intake --------------------------------------------------------------------------

    def reject(self, reason: str, tally: Tally | None = None, count: int = 1) -> None:
        """Count ticks refused before they could be parsed (bad JSON, oversized)."""
        self.totals.rejected[reason] += count
        if tally is not None:
            tally.rejected[reason] += count

    def ingest(self, raws: Iterable[object], source: str, tally: Tally | None = None) -> Tally:
        """Validate raw ticks; accepted ones are published and queued. Returns this call's
        tally (also added to `tally` and the totals). Cut with `cut_full` afterwards."""
        result = Tally()
        check = self.validator.check
        for raw in raws:
            outcome = check(raw)
            if isinstance(outcome, str):
                result.rejected[outcome] += 1
            else:
                self._accept(outcome, source)
                result.accepted += 1
        self._add(result, tally)
        return result

    def ingest_parsed(
        self, ticks: Iterable[Tick], source: str, tally: Tally | None = None
    ) -> Tally:
        """Like `ingest` for ticks already normalized (replays): known symbols and order are
        still enforced."""
        result = Tally()
        admit = self.validator.admit
        for tick in ticks:
            reason = admit(tick)
            if reason is not None:
                result.rejected[reason] += 1
            else:
                self._accept(tick, source)
                result.accepted += 1
        self._add(result, tally)
        return result

    def _add(self, result: Tally, tally: Tally | None) -> None:
        for target in (self.totals, tally):
            if target is not None:
                target.accepted += result.accepted
                target.rejected.update(result.rejected)

    def _accept(self, tick: Tick, source: str) -> None:
        self.pending.setdefault(source, []).append(tick)
        self.pending_count += 1
        if self._oldest_pending is None:
            self._oldest_pending = time.monotonic()
        self.candles.add(tick.symbol, tick.ts_ms, tick.price, tick.volume)
        if self.hub.wants("ticks", tick.symbol):
            self.hub.publish(
                "ticks",
                tick.symbol,
                {
                    "type": "tick",
                    "symbol": tick.symbol,
                    "ts_ms": tick.ts_ms,
                    "price": tick.price,
                    "volume": tick.volume,
                },
            )

    # -- batching ------------------------------------------------------------------------

    async def cut_full(self) -> None:
        """Cut the sources holding a full batch (call after ingesting)."""
        if any(len(ticks) >= self.settings.batch_max_ticks for ticks in self.pending.values()):
            await self.cut()

    async def cut(self) -> None:
        """Hand every pending tick and the candles they changed to the outbox."""
        async with self._cut_lock:
            pending, self.pending = self.pending, {}
            self._oldest_pending = None
            size = self.settings.batch_max_ticks
            for source, ticks in pending.items():
                for start in range(0, len(ticks), size):
                    chunk = ticks[start : start + size]
                    await self._put_ticks(source, chunk)
                    # Counted as pending until the outbox holds them (a put may await a spill).
                    self.pending_count -= len(chunk)
            if self.candles.buffered:
                await self._put_candles()

    async def _put_ticks(self, source: str, ticks: list[Tick]) -> None:
        batch_id = f"{self.run_id}-{next(self._batch_numbers)}"
        await self.outbox.put("ticks", batch_payload(batch_id, source, ticks), len(ticks), source)

    async def _put_candles(self) -> None:
        changed = self.candles.flush()
        records = []
        for candle in changed:
            record = candle.record()
            records.append(record)
            channel = f"candles:{candle.interval}"
            if self.hub.wants(channel, candle.symbol):
                self.hub.publish(
                    channel, candle.symbol, {"type": "candle", **record, "closed": candle.closed}
                )
        for start in range(0, len(records), CANDLE_BATCH):
            chunk = records[start : start + CANDLE_BATCH]
            await self.outbox.put("candles", {"candles": chunk}, len(chunk))

    async def _flush_periodically(self) -> None:
        period = self.settings.batch_max_seconds
        while True:
            oldest = self._oldest_pending
            if oldest is None:
                await asyncio.sleep(period / 2)
                continue
            wait = oldest + period - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
                continue
            try:
                await self.cut()
            except Exception:  # the flusher must outlive any one failure
                log.exception("cutting batches failed")
                await asyncio.sleep(period)

    # -- reporting -----------------------------------------------------------------------

    def stats(self) -> dict:
        outbox = self.outbox
        counters = outbox.counters
        return {
            "accepted": self.totals.accepted,
            "rejected": dict(self.totals.rejected),
            "pending": self.pending_count + outbox.pending_ticks(),
            "spooled": outbox.spooled_ticks(),
            "stored": counters["stored"],
            "subscribers": len(self.hub),
            "dropped": self.hub.dropped,
            "storage": {None: "unknown", True: "up", False: "down"}[outbox.storage_up],
            "storage_error": outbox.last_error,
            "backpressure": outbox.full(),
            "outbox": {
                "memory_batches": len(outbox.memory),
                "memory_bytes": outbox.memory_bytes,
                "spool_batches": len(outbox.spooled),
                "spool_bytes": outbox.spool.bytes,
                "spool_max_bytes": outbox.max_bytes,
            },
            "batches": {
                "ticks": counters["ticks_batches"],
                "candles": counters["candles_batches"],
                "duplicates": counters["duplicate_batches"],
                "spilled": counters["spilled_batches"],
                "rejected": counters["rejected_batches"],
                "vanished": counters["vanished_batches"],
                "send_failures": counters["send_failures"],
            },
            "candles": {
                "upserted": counters["candles_upserted"],
                "open_windows": self.candles.open_windows(),
            },
            "symbols": len(self.registry),
            "published": self.hub.published,
        }
