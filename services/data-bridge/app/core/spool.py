"""The disk spool: batches waiting for storage, one file each, in the order they were cut.

A file is the exact request body that will be sent (so a batch keeps its `batch_id` across
restarts and a resend after an unknown outcome is idempotent at database-service). Its name
carries the order and what it holds: `<seq>.<kind>.<count>.json`. Files are written atomically
(a temporary name in the same directory, fsync, rename, fsync of the directory), so a crash
leaves either the whole batch or nothing; temporary leftovers are removed at start-up.

A batch database-service refuses for good (see outbox.py) moves to `rejected/`, kept for a
person to look at, never resent and never replaced or deleted by us: sequence numbers continue
after the highest in either directory, and a name already taken there is never reused. Beside
each such batch, `<seq>.<kind>.<count>.reason.json` says why (status, the start of the answer,
when).
"""

import asyncio
import contextlib
import logging
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson

log = logging.getLogger("data-bridge.spool")

_NAME = re.compile(r"(?P<seq>\d{12})\.(?P<kind>ticks|candles)\.(?P<count>\d+)\.json")
_TEMP_PREFIX = ".tmp-"
REJECTED_DIR = "rejected"
REASON_SUFFIX = ".reason.json"
# Characters of database-service's answer kept in a reason file: enough for its detail.
ANSWER_EXCERPT = 500


@dataclass(eq=False)
class Item:
    """One batch for storage: in memory (`body`) or on disk (`path`), or both while moving."""

    kind: str  # "ticks" -> POST /market/ticks, "candles" -> POST /market/candles
    count: int  # ticks or candles it holds
    size: int  # bytes of the body
    body: bytes | None = None
    source: str | None = None  # the producer run of a tick batch (unknown after a restart)
    path: Path | None = None
    segment: str | None = None  # the journal segment it was cut from, until durable elsewhere


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
        # rejected/ too: a batch quarantined from memory took a number no spool file keeps.
        self._seq = max([seq for seq, _ in items] + self._rejected_seqs(), default=0)
        self.bytes = sum(item.size for _, item in items)
        if items:
            log.info(
                "spool holds %d batches (%d bytes) from a previous run", len(items), self.bytes
            )
        return [item for _, item in items]

    def _rejected_seqs(self) -> list[int]:
        """Sequence numbers used in rejected/ (whose half-written leftovers go)."""
        seqs = []
        with contextlib.suppress(FileNotFoundError):
            for path in (self.directory / REJECTED_DIR).iterdir():
                if path.name.startswith(_TEMP_PREFIX):
                    path.unlink(missing_ok=True)
                elif match := re.match(r"\d{12}\.", path.name):
                    seqs.append(int(match[0][:-1]))
        return seqs

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
        _fsync_directory(self.directory)
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

    def quarantine(
        self, item: Item, body: bytes | None, status: int | None = None, answer: str = ""
    ) -> Path:
        """Move a batch storage refused for good to rejected/, out of the send order.

        Writes a reason file beside it and returns its path there; never replaces a file."""
        # Synchronous on purpose: the item must not change parts (spill) while it moves.
        target_dir = self.directory / REJECTED_DIR
        target_dir.mkdir(exist_ok=True)
        if body is None:
            assert item.path is not None
            body = item.path.read_bytes()
        name = item.path.name if item.path is not None else None
        while True:
            if name is None or (target_dir / _reason_name(name)).exists():
                self._seq += 1
                name = f"{self._seq:012d}.{item.kind}.{item.count}.json"
                continue
            try:
                _create_new(target_dir / name, body)
                break
            except FileExistsError:
                name = None  # taken (put back by hand?): keep that one, take a new number
        reason = {
            "batch": name,
            "status": status,
            "answer": answer[:ANSWER_EXCERPT],
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        _create_new(target_dir / _reason_name(name), orjson.dumps(reason))
        _fsync_directory(target_dir)
        if item.path is not None:
            item.path.unlink(missing_ok=True)
            self.bytes -= item.size
            item.path = None
        return target_dir / name

    def rejected_on_disk(self) -> tuple[int, int]:
        """Batches in rejected/ and their bytes, whichever run put them there."""
        # A listing per call: rejected/ holds incidents (few files), and a person's clean-up
        # shows at once.
        batches = size = 0
        with (
            contextlib.suppress(FileNotFoundError),
            os.scandir(self.directory / REJECTED_DIR) as entries,
        ):
            for entry in entries:
                if _NAME.fullmatch(entry.name) and entry.is_file():
                    batches += 1
                    size += entry.stat().st_size
        return batches, size


def _reason_name(batch_name: str) -> str:
    return batch_name.removesuffix(".json") + REASON_SUFFIX


def _create_new(path: Path, body: bytes) -> None:
    """Write `path` whole or not at all; FileExistsError rather than replacing a file."""
    temp = path.with_name(f"{_TEMP_PREFIX}{path.name}")
    with open(temp, "wb") as handle:
        handle.write(body)
        handle.flush()
        os.fsync(handle.fileno())
    try:
        os.link(temp, path)  # unlike a rename, a link never replaces what is there
    finally:
        temp.unlink()


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
