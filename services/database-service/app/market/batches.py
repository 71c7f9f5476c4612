"""Tick batches stored exactly once: no tick lost, none stored twice, whatever the retries.

A batch's ticks go to ClickHouse in one INSERT (one block: all of them or none). Everything
else happens under a PostgreSQL advisory lock on the batch id, which serializes concurrent
attempts at one batch across every worker process and replica:

1. Look the batch id up in ``tick_batches``. Unknown: register it (its tick count, a
   fingerprint of its ticks, where they lie), then insert its ticks.
2. Known with another count or other ticks: 409, nothing written.
3. Known and identical: count its stored ticks (through the primary key, bounded by the
   batch's symbols and times). All there: a duplicate. None: an earlier attempt registered it
   and then failed before or during its insert, so insert now.

Registering first means a crash between the two writes leaves a batch that the next attempt
completes, never ticks that a later attempt with the same id could not recognize.
"""

import asyncio
import hashlib
import logging

import asyncpg

from app.core.clickhouse import ClickHouse
from app.market import sql
from app.market.models import TickBatch, TickBatchResult

log = logging.getLogger("app.market")

# The first key of the two-key advisory locks taken here (ASCII "mktb"): a namespace of its own,
# apart from the one-key lock of the PostgreSQL migrations.
LOCK_CLASS = 0x6D6B7462
LOCK = "SELECT pg_advisory_lock($1, hashtext($2))"
UNLOCK = "SELECT pg_advisory_unlock($1, hashtext($2))"


class BatchConflict(Exception):
    """A batch id already stored with other ticks; ``detail`` says how they differ."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def fingerprint(batch: TickBatch) -> str:
    """A digest of the batch's ticks, independent of their order (a resend may reorder)."""
    lines = sorted(f"{t.symbol} {t.ts_ms} {t.price!r} {t.volume!r}" for t in batch.ticks)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


async def store(
    pool: asyncpg.Pool, clickhouse: ClickHouse, batch: TickBatch, acquire_timeout: float
) -> TickBatchResult:
    """Store the batch unless its id is already stored; raises BatchConflict on a mismatch.

    Runs shielded from the caller's cancellation: a client hanging up must not release the
    lock while an insert is still running in its thread, or a retry could insert again.
    """
    work = asyncio.ensure_future(_store_locked(pool, clickhouse, batch, acquire_timeout))
    work.add_done_callback(_retrieve)
    return await asyncio.shield(work)


async def _store_locked(
    pool: asyncpg.Pool, clickhouse: ClickHouse, batch: TickBatch, acquire_timeout: float
) -> TickBatchResult:
    # A connection of its own rather than the request's: this outlives a cancelled request.
    async with pool.acquire(timeout=acquire_timeout) as conn:
        # Session-level lock, waited for up to the pool's command timeout (then a 503). Released
        # below, by asyncpg's reset when the connection returns to the pool, or by PostgreSQL
        # when the connection dies.
        await conn.execute(LOCK, LOCK_CLASS, batch.batch_id)
        try:
            return await _store_unless_stored(clickhouse, batch)
        finally:
            if not conn.is_closed():
                await conn.execute(UNLOCK, LOCK_CLASS, batch.batch_id)


async def _store_unless_stored(clickhouse: ClickHouse, batch: TickBatch) -> TickBatchResult:
    ticks = batch.ticks
    stamps = [t.ts_ms for t in ticks]
    symbols = sorted({t.symbol for t in ticks})
    digest = fingerprint(batch)
    known = await clickhouse.execute(sql.SELECT_BATCH, {"batch_id": batch.batch_id})
    if not known:
        registration = [
            [batch.batch_id],
            [batch.source],
            [len(ticks)],
            [digest],
            [symbols],
            [min(stamps)],
            [max(stamps)],
        ]
        await clickhouse.execute(sql.INSERT_BATCH, registration, columnar=True)
        return await _insert(clickhouse, batch, stamps)
    count, known_digest = known[0]
    conflict = None
    if count != len(ticks):
        conflict = f"batch {batch.batch_id} is already stored with {count} ticks, not {len(ticks)}"
    elif known_digest != digest:
        conflict = f"batch {batch.batch_id} is already stored with other ticks"
    if conflict:
        # A producer reusing an id for other ticks has a bug that its 409 alone may hide.
        log.warning("refused: %s (source %s)", conflict, batch.source)
        raise BatchConflict(conflict)
    bounds = {"first_ms": min(stamps), "last_ms": max(stamps), "batch_id": batch.batch_id}
    if len(symbols) <= sql.COUNT_BATCH_SYMBOLS_MAX:
        rows = await clickhouse.execute(sql.COUNT_BATCH, {**bounds, "symbols": tuple(symbols)})
    else:
        rows = await clickhouse.execute(sql.COUNT_BATCH_ANY_SYMBOL, bounds)
    stored = rows[0][0]
    if stored == len(ticks):
        return TickBatchResult(
            batch_id=batch.batch_id, ticks=len(ticks), inserted=0, duplicate=True
        )
    if stored:
        # One insert is one block, stored whole or not at all: this is not a state the API
        # can produce, so it is reported rather than papered over.
        raise RuntimeError(f"batch {batch.batch_id} has {stored} of its {len(ticks)} ticks stored")
    log.info("completing batch %s: registered earlier, its ticks not stored", batch.batch_id)
    return await _insert(clickhouse, batch, stamps)


async def _insert(clickhouse: ClickHouse, batch: TickBatch, stamps: list[int]) -> TickBatchResult:
    ticks = batch.ticks
    n = len(ticks)
    columns = [
        [t.symbol for t in ticks],
        stamps,
        [t.price for t in ticks],
        [t.volume for t in ticks],
        [batch.source] * n,
        [batch.batch_id] * n,
        list(range(n)),
    ]
    await clickhouse.execute(sql.INSERT_TICKS, columns, columnar=True)
    return TickBatchResult(batch_id=batch.batch_id, ticks=n, inserted=n, duplicate=False)


def _retrieve(done: asyncio.Future) -> None:
    """Mark a shielded future's error as seen: its awaiting caller may have been cancelled."""
    if not done.cancelled():
        done.exception()
