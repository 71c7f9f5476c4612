"""The spool: atomic files, kept in order across restarts, refused batches set aside."""

from pathlib import Path

import orjson

from app.core.spool import REJECTED_DIR, Item, Spool


def names(directory: Path, pattern: str) -> list[str]:
    return sorted(path.name for path in directory.glob(pattern))


def item(n: int) -> Item:
    body = f'{{"batch_id":"b-{n}","ticks":[]}}'.encode()
    return Item("ticks", n, len(body), body=body)


async def test_written_batches_come_back_in_order_after_a_restart(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    assert spool.open() == []
    for n in (3, 1, 2):
        first = item(n)
        first.path = await spool.write(first)
    assert spool.bytes == sum(item(n).size for n in (3, 1, 2))
    (tmp_path / ".tmp-000000000009.ticks.5.json").write_bytes(b"half a ba")  # a crash mid-write

    reopened = Spool(tmp_path)
    items = reopened.open()
    assert [entry.count for entry in items] == [3, 1, 2]
    assert reopened.bytes == spool.bytes
    assert await reopened.read(items[1]) == item(1).body
    assert not any(name.startswith(".tmp-") for name in names(tmp_path, "*"))
    # New files sort after the old ones.
    newer = item(7)
    newer.path = await reopened.write(newer)
    assert names(tmp_path, "*.json")[-1] == newer.path.name

    reopened.remove(items[0])
    assert len(Spool(tmp_path).open()) == 3


async def test_quarantine_moves_a_batch_out_of_the_order(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.open()
    spooled = item(4)
    spooled.path = await spool.write(spooled)
    target = spool.quarantine(spooled, None)
    assert target.parent.name == REJECTED_DIR and target.read_bytes() == item(4).body
    in_memory = spool.quarantine(item(5), item(5).body)
    assert in_memory.read_bytes() == item(5).body
    assert spool.bytes == 0
    assert Spool(tmp_path).open() == []


def same_size(n: int) -> Item:
    """Batches whose file names differ by their sequence number only."""
    body = f'{{"batch_id":"b-{n}","ticks":[]}}'.encode()
    return Item("ticks", 5, len(body), body=body)


def rejected_bodies(directory: Path) -> list[bytes]:
    return sorted(path.read_bytes() for path in (directory / REJECTED_DIR).glob("*.ticks.5.json"))


async def test_quarantined_batches_are_never_replaced_across_restarts(tmp_path: Path) -> None:
    first = Spool(tmp_path)
    first.open()
    kept = same_size(1)
    kept.path = await first.write(kept)  # still spooled at the restart
    first.quarantine(same_size(2), same_size(2).body)  # refused while in memory

    second = Spool(tmp_path)  # the spool holds one batch, rejected/ a newer one
    assert second.open() != []
    second.quarantine(same_size(3), same_size(3).body)
    second.remove(kept)

    third = Spool(tmp_path)  # the spool is empty, rejected/ is not
    assert third.open() == []
    newest = same_size(4)
    newest.path = await third.write(newest)
    third.quarantine(newest, None)
    assert rejected_bodies(tmp_path) == sorted(same_size(n).body for n in (2, 3, 4))
    # New spool files still sort after everything, rejected/ included.
    later = same_size(5)
    later.path = await third.write(later)
    assert later.path.name > max(path.name for path in (tmp_path / REJECTED_DIR).iterdir())


async def test_quarantine_refuses_to_replace_a_file_already_there(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.open()
    spooled = same_size(6)
    spooled.path = await spool.write(spooled)
    name = spooled.path.name
    # Put back by hand after the start, under the very name the spooled batch has.
    (tmp_path / REJECTED_DIR).mkdir()
    (tmp_path / REJECTED_DIR / name).write_bytes(b"an earlier batch")
    target = spool.quarantine(spooled, None)
    assert target.name != name and target.read_bytes() == same_size(6).body
    assert (tmp_path / REJECTED_DIR / name).read_bytes() == b"an earlier batch"
    assert spool.bytes == 0 and Spool(tmp_path).open() == []


async def test_each_quarantined_batch_has_a_reason_and_is_counted(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.open()
    target = spool.quarantine(item(7), item(7).body, status=500, answer="x" * 10_000)
    reason_file = target.with_name(target.name.removesuffix(".json") + ".reason.json")
    reason = orjson.loads(reason_file.read_bytes())
    assert reason["status"] == 500 and reason["batch"] == target.name
    assert 0 < len(reason["answer"]) <= 500 and reason["at"]
    spool.quarantine(item(8), item(8).body, status=422, answer="bad")
    assert spool.rejected_on_disk() == (2, item(7).size + item(8).size)
    assert Spool(tmp_path).rejected_on_disk() == (2, item(7).size + item(8).size)  # a restart
