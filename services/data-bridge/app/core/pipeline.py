"""The path every tick takes: validate, publish, journal, batch per source, build candles, hand
over to the outbox.

Accepted ticks are journaled (app/core/journal.py) and `ingest` returns only once the journal
has them on disk, so whatever a caller was told was accepted survives a crash. Each cut seals
the journal's segment; its batches are named after it (`<segment>-<n>`), so the batches a
recovery cuts again from a surviving segment carry the same ids and database-service stores
each once.

A batch is cut for a source when it holds BATCH_MAX_TICKS ticks, and every source's pending
ticks are cut once the oldest has waited BATCH_MAX_SECONDS; the candles changed by those ticks
are folded at the same moment, so a candle batch never runs ahead of the ticks it summarizes.
Without the journal (DURABLE_INTAKE=false, for measuring its cost) batch ids are
`<run id>-<sequence>`. Either way they are unique across restarts and kept by the spool.
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
from pathlib import Path

from app.core.candles import CandleBuilder
from app.core.config import Settings
from app.core.fanout import Hub
from app.core.journal import Journal
from app.core.outbox import Outbox
from app.core.series import SERIES_FILES
from app.core.spool import Spool
from app.core.ticks import SymbolLimitError, SymbolRegistry, Tick, TickValidator
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
        self.run_id = uuid.uuid4().hex[:16]
        self.registry = SymbolRegistry(
            [*SERIES_FILES, *settings.declared_symbols()],
            settings.max_symbols,
            Path(settings.spool_dir) / "registry" / "symbols.json",
        )
        self.validator = TickValidator(
            self.registry, settings.out_of_order_tolerance_ms, settings.max_future_ms
        )
        self.candles = CandleBuilder(settings.out_of_order_tolerance_ms)
        self.hub = Hub(settings.fanout_queue, settings.max_subscribers)
        self.outbox = Outbox(
            Spool(settings.spool_dir),
            client,
            buffer_max_records=settings.buffer_max_ticks,
            max_bytes=settings.spool_max_bytes,
            retry_max_seconds=settings.storage_retry_max_seconds,
            poison_after_failures=settings.poison_after_failures,
        )
        self.journal = Journal(
            Path(settings.spool_dir) / "journal", self.run_id, settings.batch_max_ticks
        )
        self.outbox.on_durable = lambda item: self.journal.release(item.segment)
        self.recovered = 0
        self.totals = Tally()
        self.pending: dict[str, list[Tick]] = {}
        self.pending_count = 0
        self._oldest_pending: float | None = None
        self._batch_numbers = itertools.count(1)
        self._cut_lock = asyncio.Lock()
        self._flusher: asyncio.Task | None = None

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Send what a previous run spooled first, then what its journal held, then whatever
        comes."""
        self.outbox.open()
        await self._recover()
        self.outbox.start()
        self._flusher = asyncio.create_task(self._flush_periodically(), name="batch-flusher")

    async def _recover(self) -> None:
        """Cut a previous run's journal segments again, into the batches it had cut or was
        about to: same ticks, same batch ids (database-service answers a stored one
        `duplicate`). Their ticks move the watermarks and candles as they did then."""
        watermarks = self.validator.watermarks
        for segment in self.journal.recover():
            numbers = itertools.count(1)
            symbols = {tick.symbol for ticks in segment.ticks.values() for tick in ticks}
            with contextlib.suppress(SymbolLimitError):  # they were known when accepted
                self.registry.declare(sorted(symbols))
            for source, ticks in segment.ticks.items():
                for tick in ticks:
                    if tick.ts_ms > watermarks.get(tick.symbol, tick.ts_ms - 1):
                        watermarks[tick.symbol] = tick.ts_ms
                    self.candles.add(tick.symbol, tick.ts_ms, tick.price, tick.volume)
                for start in range(0, len(ticks), segment.batch_ticks):
                    chunk = ticks[start : start + segment.batch_ticks]
                    batch_id = f"{segment.segment}-{next(numbers)}"
                    await self._put_ticks(source, chunk, segment.segment, batch_id)
                self.recovered += len(ticks)
            if self.candles.buffered:
                await self._put_candles(segment.segment)
            self.journal.done_cutting(segment.segment)

    async def stop(self) -> None:
        """Cut everything pending, send what storage takes in time, spool the rest."""
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        await self.cut()
        await self.outbox.stop(self.settings.shutdown_flush_seconds)
        await self.journal.commit()
        self.journal.close()

    # -- intake --------------------------------------------------------------------------

    def reject(self, reason: str, tally: Tally | None = None, count: int = 1) -> None:
        """Count ticks refused before they could be parsed (bad JSON, oversized)."""
        self.totals.rejected[reason] += count
        if tally is not None:
            tally.rejected[reason] += count

    async def ingest(
        self, raws: Iterable[object], source: str, tally: Tally | None = None
    ) -> Tally:
        """Validate raw ticks; accepted ones are published, queued and journaled. Returns
        once they are durable, with this call's tally (then also added to `tally` and the
        totals: nothing is counted as accepted before it is on disk); cuts full batches.
        OSError when the journal cannot be written (nothing may be acknowledged then)."""
        result = self.admit_raw(raws, source)
        await self._settle(result, tally)
        return result

    async def ingest_parsed(
        self, ticks: Iterable[Tick], source: str, tally: Tally | None = None
    ) -> Tally:
        """Like `ingest` for ticks already normalized (replays): known symbols and order are
        still enforced."""
        result = self.admit_parsed(ticks, source)
        await self._settle(result, tally)
        return result

    def admit_raw(self, raws: Iterable[object], source: str) -> Tally:
        """Validate, accept and journal (not yet on disk: `ingest` waits for that)."""
        result, accepted = Tally(), []
        check = self.validator.check
        for raw in raws:
            outcome = check(raw)
            if isinstance(outcome, str):
                result.rejected[outcome] += 1
            else:
                self._accept(outcome, source)
                accepted.append(outcome)
        result.accepted = len(accepted)
        self._journal(source, accepted)
        return result

    def admit_parsed(self, ticks: Iterable[Tick], source: str) -> Tally:
        result, accepted = Tally(), []
        admit = self.validator.admit
        for tick in ticks:
            reason = admit(tick)
            if reason is not None:
                result.rejected[reason] += 1
            else:
                self._accept(tick, source)
                accepted.append(tick)
        result.accepted = len(accepted)
        self._journal(source, accepted)
        return result

    def _journal(self, source: str, accepted: list[Tick]) -> None:
        if self.settings.durable_intake:
            self.journal.append(source, accepted)

    async def _settle(self, result: Tally, tally: Tally | None) -> None:
        if self.settings.durable_intake:
            await self.journal.commit()
        self._add(result, tally)
        await self.cut_full()

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
            # The segment these ticks were journaled in; the next ones go to a new one.
            segment = self.journal.rotate() if self.settings.durable_intake else None
            self._oldest_pending = None
            size = self.settings.batch_max_ticks
            numbers = itertools.count(1)
            for source, ticks in pending.items():
                for start in range(0, len(ticks), size):
                    chunk = ticks[start : start + size]
                    if segment is None:
                        batch_id = f"{self.run_id}-{next(self._batch_numbers)}"
                    else:
                        batch_id = f"{segment}-{next(numbers)}"
                    await self._put_ticks(source, chunk, segment, batch_id)
                    # Counted as pending until the outbox holds them (a put may await a spill).
                    self.pending_count -= len(chunk)
            if self.candles.buffered:
                await self._put_candles(segment)
            self.journal.done_cutting(segment)

    async def _put_ticks(
        self, source: str, ticks: list[Tick], segment: str | None, batch_id: str
    ) -> None:
        self.journal.hold(segment)
        payload = batch_payload(batch_id, source, ticks)
        await self.outbox.put("ticks", payload, len(ticks), source, segment=segment)

    async def _put_candles(self, segment: str | None) -> None:
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
            self.journal.hold(segment)
            await self.outbox.put("candles", {"candles": chunk}, len(chunk), segment=segment)

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
            "journal": {
                "durable": self.settings.durable_intake,
                "recovered": self.recovered,
                **self.journal.stats(),
            },
        }
