"""The intake journal: what was acknowledged is on disk, read back after a crash, cut again into
the same batches (stored once), and forgotten once durable elsewhere."""

import asyncio
import time
from pathlib import Path

from app.core.config import Settings
from app.core.journal import Journal
from app.core.pipeline import Pipeline
from app.core.ticks import Tick
from tests.core.test_outbox import Storage, client_for, wait_until

BASE = int(time.time() * 1000) - 3_600_000  # an hour ago: live, and not in the future


def ticks(n: int, start: int = 0, symbol: str = "AAA") -> list[Tick]:
    return [Tick(symbol, BASE + start + i, 1.0 + i / 1000, 1.0) for i in range(n)]


def raw(n: int, start: int = 0) -> list[dict]:
    return [t._asdict() for t in ticks(n, start)]


def journal_files(directory: Path) -> list[str]:
    return sorted(p.name for p in (directory / "journal").glob("*.journal"))


async def test_commit_returns_once_appends_are_on_disk_and_recover_reads_them(tmp_path):
    journal = Journal(tmp_path, "abc123", batch_ticks=500)
    assert journal.recover() == []
    journal.append("api", ticks(3))
    journal.append("replay:x", ticks(2, start=10))
    await journal.commit()
    # A new process (the old one killed: nothing closed, nothing flushed by it).
    again = Journal(tmp_path, "def456", batch_ticks=500)
    (segment,) = again.recover()
    assert segment.batch_ticks == 500
    assert segment.ticks == {"api": ticks(3), "replay:x": ticks(2, start=10)}


async def test_concurrent_commits_share_fsyncs(tmp_path):
    journal = Journal(tmp_path, "abc", batch_ticks=100)
    journal.recover()

    async def one(n: int) -> None:
        journal.append("api", ticks(10, start=n * 10))
        await journal.commit()

    await asyncio.gather(*(one(n) for n in range(50)))
    assert journal.fsyncs < 50  # group commit: 50 acknowledged appends, fewer fsyncs
    (segment,) = Journal(tmp_path, "new", 100).recover()
    assert segment.count == 500


async def test_a_torn_last_record_is_dropped_and_the_rest_kept(tmp_path):
    journal = Journal(tmp_path, "abc", batch_ticks=100)
    journal.recover()
    journal.append("api", ticks(4))
    await journal.commit()
    (path,) = (tmp_path).glob("*.journal")
    with path.open("ab") as handle:  # a crash in the middle of the next write
        handle.write(b"\x00\x00\x01\x00garbage")
    (segment,) = Journal(tmp_path, "new", 100).recover()
    assert segment.ticks == {"api": ticks(4)}


async def test_a_segment_goes_once_every_batch_cut_from_it_is_released(tmp_path):
    journal = Journal(tmp_path, "abc", batch_ticks=100)
    journal.recover()
    journal.append("api", ticks(5))
    await journal.commit()
    sealed = journal.rotate()
    journal.hold(sealed)
    journal.hold(sealed)
    journal.done_cutting(sealed)
    journal.release(sealed)
    assert list(tmp_path.glob("*.journal"))  # one batch still only in memory
    journal.release(sealed)
    assert not list(tmp_path.glob("*.journal"))


def settings_for(directory: Path, **extra) -> Settings:
    return Settings(
        environment="test",
        spool_dir=str(directory),
        known_symbols="AAA",
        batch_max_ticks=2000,
        batch_max_seconds=60,  # cuts only when full, so some ticks are still pending at a crash
        **extra,
    )


def kill(pipeline: Pipeline) -> None:
    """What SIGKILL leaves: the files on disk, no goodbye (no stop, no spill, no flush)."""
    pipeline.outbox._writer.cancel()
    pipeline._flusher.cancel()


async def test_acknowledged_ticks_survive_a_kill_while_storage_is_away(tmp_path):
    # The case seen: storage away, 5,000 ticks acknowledged in 5 requests, data-bridge killed
    # with SIGKILL and started again: none of them reached storage. Now all of them, once.
    away = Storage()
    away.failures = ["refuse"] * 10_000
    first = Pipeline(settings_for(tmp_path), client_for(away))
    await first.start()
    for n in range(5):
        tally = await first.ingest(raw(1000, start=n * 1000), "api")
        assert tally.accepted == 1000
    assert journal_files(tmp_path)  # 2 cut batches in memory, 1,000 ticks pending: on disk
    kill(first)

    storage = Storage()
    second = Pipeline(settings_for(tmp_path), client_for(storage))
    await second.start()
    await wait_until(lambda: sum(storage.batches.values()) == 5000 and len(second.outbox) == 0)
    assert second.recovered == 5000
    assert sorted(storage.batches.values()) == [1000, 2000, 2000]
    await second.stop()
    assert journal_files(tmp_path) == []  # every batch confirmed: the journal is empty

    third = Pipeline(settings_for(tmp_path), client_for(storage))
    await third.start()
    assert third.recovered == 0
    await third.stop()
    assert sum(storage.batches.values()) == 5000


async def test_a_batch_stored_before_the_kill_is_not_stored_twice(tmp_path):
    # Storage took the first batch but its answer never came back; then storage went away
    # and data-bridge was killed. The recovery sends that batch again under the same id.
    storage = Storage()
    storage.failures = ["lost"] + ["refuse"] * 10_000
    first = Pipeline(settings_for(tmp_path), client_for(storage))
    await first.start()
    for n in range(3):
        await first.ingest(raw(1000, start=n * 1000), "api")
    await wait_until(lambda: len(storage.batches) == 1)
    kill(first)

    storage.failures = []
    second = Pipeline(settings_for(tmp_path), client_for(storage))
    await second.start()
    await wait_until(lambda: len(second.outbox) == 0 and sum(storage.batches.values()) == 3000)
    await second.stop()
    assert sum(storage.batches.values()) == 3000
    assert second.outbox.counters["duplicate_batches"] == 1


async def test_without_durable_intake_nothing_is_journaled(tmp_path):
    pipeline = Pipeline(settings_for(tmp_path, durable_intake=False), client_for(Storage()))
    await pipeline.start()
    await pipeline.ingest(raw(10), "api")
    assert journal_files(tmp_path) == []
    await pipeline.stop()


async def test_recovered_symbols_are_known_again(tmp_path):
    # A symbol declared by a replay or feed is known only in memory: after a kill, the ticks
    # the journal gives back make it known again, or its next live ticks would be refused.
    away = Storage()
    away.failures = ["refuse"] * 10_000
    first = Pipeline(settings_for(tmp_path), client_for(away))
    await first.start()
    first.registry.declare(["ZZZ"])
    live = [{**t, "symbol": "ZZZ"} for t in raw(10)]
    assert (await first.ingest(live, "api")).accepted == 10
    kill(first)
    second = Pipeline(settings_for(tmp_path), client_for(away))
    await second.start()
    later = [{**t, "symbol": "ZZZ"} for t in raw(10, start=100)]
    assert (await second.ingest(later, "api")).accepted == 10
    kill(second)
