"""The spool: atomic files, kept in order across restarts, refused batches set aside."""

from pathlib import Path

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
