"""The disk spool: batches waiting for storage, one file each, in the order they were cut.

A file is the exact request body that will be sent (so a batch keeps its `batch_id` across
restarts and a resend after an unknown outcome is idempotent at database-service). Its name
carries the order and what it holds: `<seq>.<kind>.<count>.json`. Files are written atomically
(a temporary name in the same directory, fsync, rename, fsync of the directory), so a crash
leaves either the whole batch or nothing; temporary leftovers are removed at start-up.
A batch database-service refuses for good (4xx other than auth) moves to `rejected/`, kept
for a person to look at, never resent and never silently deleted.
"""

import asyncio
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("data-bridge.spool")

_NAME = re.compile(r"(?P<seq>\d{12})\.(?P<kind>ticks|candles)\.(?P<count>\d+)\.json")
_TEMP_PREFIX = ".tmp-"
REJECTED_DIR = "rejected"


@dataclass(eq=False)
class Item:
    """One batch for storage: in memory (`body`) or on disk (`path`), or both while moving."""

    kind: str  # "ticks" -> POST /market/ticks, "candles" -> POST /market/candles
    count: int  # ticks or candles it holds
    size: int  # bytes of the body
    body: bytes | None = None
    source: str | None = None  # the producer run of a tick batch (unknown after a restart)
    path: Path | None = None


class Spool:
    """Batch files in one directory; the caller keeps the in-memory index in order."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self._seq = 0
        self.bytes = 0

    def open(self) -> list[Item]:
        """Create the directory, drop half-written files, index what a previous run left."""
        self.directory.mkdir(parents=True, exist_ok=True)
        items: list[tuple[int, Item]] = []
        for path in self.directory.iterdir():
            if path.name.startswith(_TEMP_PREFIX):
                path.unlink(missing_ok=True)
                continue
            match = _NAME.fullmatch(path.name)
            if match is None or not path.is_file():
                continue
            size = path.stat().st_size
            item = Item(match["kind"], int(match["count"]), size, path=path)
            items.append((int(match["seq"]), item))
        items.sort(key=lambda pair: pair[0])
        self._seq = items[-1][0] if items else 0
        self.bytes = sum(item.size for _, item in items)
        if items:
            log.info(
                "spool holds %d batches (%d bytes) from a previous run", len(items), self.bytes
            )
        return [item for _, item in items]

    def writable(self) -> bool:
        return os.access(self.directory, os.W_OK | os.X_OK)

    async def write(self, item: Item) -> Path:
        """Store `item`'s body as the newest batch; returns its path (the body stays)."""
        assert item.body is not None
        self._seq += 1
        name = f"{self._seq:012d}.{item.kind}.{item.count}.json"
        path = await asyncio.to_thread(self._write_atomically, name, item.body)
        self.bytes += item.size
        return path

    def _write_atomically(self, name: str, body: bytes) -> Path:
        final = self.directory / name
        temp = self.directory / f"{_TEMP_PREFIX}{name}"
        with open(temp, "wb") as handle:
            handle.write(body)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, final)
        directory = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
        return final

    async def read(self, item: Item) -> bytes:
        assert item.path is not None
        return await asyncio.to_thread(item.path.read_bytes)

    def remove(self, item: Item) -> None:
        """Forget a batch that storage confirmed."""
        if item.path is not None:
            item.path.unlink(missing_ok=True)
            self.bytes -= item.size
            item.path = None

    def quarantine(self, item: Item, body: bytes | None) -> Path:
        """Keep a batch storage refused for good in rejected/, out of the send order."""
        target_dir = self.directory / REJECTED_DIR
        target_dir.mkdir(exist_ok=True)
        if item.path is not None:
            target = target_dir / item.path.name
            os.replace(item.path, target)
            self.bytes -= item.size
            item.path = None
            return target
        self._seq += 1
        target = target_dir / f"{self._seq:012d}.{item.kind}.{item.count}.json"
        target.write_bytes(body or b"")
        return target
