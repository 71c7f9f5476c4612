"""The intake journal: accepted ticks on disk, fsync'd, before anyone is told "accepted".

Accepted ticks wait in memory for their batch to be cut (up to BATCH_MAX_SECONDS), then in the
outbox's memory part until database-service confirms them or they spill to the spool. The
journal covers both waits. Each group of accepted ticks is appended to the current segment;
callers then `commit()`, which returns once the append is fsync'd. Group commit: whatever is
appended while one write is in progress shares the next write and fsync, so concurrent
requests pay for one fsync between them.

Every cut of pending ticks seals the current segment and starts the next one, so a segment
holds exactly the ticks of one cut. The batches cut from it hold a reference each; once every
one is durable elsewhere (stored, spooled or quarantined) the segment file is deleted.

At start, the segments a previous run left are read back in order (a torn last record was
never acknowledged: it is dropped) and cut again into the same batches under the same batch
ids (the batch size is in the segment's header): a batch database-service had stored already
is answered `duplicate`, so nothing is lost and nothing is stored twice.

File: `<seq>-<run id>.journal`, a header record then tick records; each record is a 4-byte
length, a 4-byte CRC-32 of the payload, and the payload (JSON).
"""

import asyncio
import logging
import os
import re
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from app.core.ticks import Tick

log = logging.getLogger("data-bridge.journal")

_NAME = re.compile(r"(?P<seq>\d{12})-(?P<run>[0-9a-f]{1,32})\.journal")
_FRAME = struct.Struct(">II")  # payload length, CRC-32


@dataclass
class Recovered:
    """One segment a previous run left: its id, batch size and ticks by source, in order."""

    segment: str
    batch_ticks: int
    ticks: dict[str, list[Tick]] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return sum(len(ticks) for ticks in self.ticks.values())


class _Segment:
    """One journal file: appends are buffered and written by the group committer."""

    def __init__(self, directory: Path, seq: int, run_id: str, batch_ticks: int) -> None:
        self.id = f"{seq:012d}-{run_id}"
        self.path = directory / f"{self.id}.journal"
        self.buffer = bytearray(_frame({"batch_ticks": batch_ticks}))
        self.handle = None
        self.sealed = False
        self.writing = False
        self.refs = 0


class Journal:
    """Segments in one directory, the group committer and the references of cut batches."""

    def __init__(self, directory: str | Path, run_id: str, batch_ticks: int) -> None:
        self.directory = Path(directory)
        self.run_id = run_id
        self.batch_ticks = batch_ticks
        self._seq = 0
        self._current: _Segment | None = None
        self._segments: dict[str, _Segment] = {}
        self._appended = 0  # appends so far
        self._durable = 0  # appends fsync'd so far
        self._committer: asyncio.Task | None = None
        self._error: OSError | None = None
        self.bytes_written = 0
        self.fsyncs = 0

    # -- start ---------------------------------------------------------------------------

    def recover(self) -> list[Recovered]:
        """Read what a previous run left (oldest first); keep the files until released."""
        self.directory.mkdir(parents=True, exist_ok=True)
        found = []
        for path in self.directory.iterdir():
            match = _NAME.fullmatch(path.name)
            if match and path.is_file():
                found.append((int(match["seq"]), path))
        found.sort()
        self._seq = found[-1][0] if found else 0
        recovered = []
        for _, path in found:
            segment = _read(path)
            if segment is None or segment.count == 0:
                path.unlink(missing_ok=True)
                continue
            recovered.append(segment)
            held = _Segment(self.directory, 0, "0", 0)
            held.id, held.path, held.buffer, held.sealed = segment.segment, path, bytearray(), True
            self._segments[held.id] = held
        if recovered:
            log.warning(
                "journal: %d ticks in %d segments from a previous run: sending them again",
                sum(r.count for r in recovered),
                len(recovered),
            )
        return recovered

    # -- appends and commits -------------------------------------------------------------

    def append(self, source: str, ticks: list[Tick]) -> None:
        """Add accepted ticks to the current segment (durable once `commit()` returns)."""
        if not ticks:
            return
        segment = self._open_segment()
        segment.buffer += _frame({"s": source, "t": [list(t) for t in ticks]})
        self._appended += 1
        if self._committer is None or self._committer.done():
            self._committer = asyncio.create_task(self._commit_loop(), name="journal-commit")

    async def commit(self) -> None:
        """Return once every append made so far is on disk; OSError if it cannot be."""
        target = self._appended
        while self._durable < target:
            if self._error is not None:
                raise self._error
            committer = self._committer
            if committer is None or committer.done():
                self._committer = committer = asyncio.create_task(self._commit_loop())
            await asyncio.shield(committer)
        if self._error is not None and self._durable < target:
            raise self._error

    async def _commit_loop(self) -> None:
        while self._durable < self._appended:
            target = self._appended
            writes = [(s, bytes(s.buffer)) for s in self._segments.values() if s.buffer]
            for segment, _ in writes:
                segment.buffer.clear()
                segment.writing = True
            try:
                await asyncio.to_thread(self._write, writes)
            except OSError as exc:
                log.error("journal: cannot write %s: %s", self.directory, exc)
                for segment, data in writes:  # keep them for the next attempt
                    segment.buffer[:0] = data
                    segment.writing = False
                self._error = exc
                return
            self._error = None
            self._durable = target
            for segment, _ in writes:
                segment.writing = False
                self._delete_if_done(segment)

    def _write(self, writes: list[tuple[_Segment, bytes]]) -> None:
        created = False
        for segment, data in writes:
            if segment.handle is None:
                segment.handle = open(segment.path, "ab")  # noqa: SIM115 - kept open
                created = True
            segment.handle.write(data)
            segment.handle.flush()
            os.fsync(segment.handle.fileno())
            self.bytes_written += len(data)
            self.fsyncs += 1
        if created:  # a new file's name must survive a crash too
            directory = os.open(self.directory, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)

    # -- segments and references ---------------------------------------------------------

    def _open_segment(self) -> _Segment:
        if self._current is None:
            self._seq += 1
            self._current = _Segment(self.directory, self._seq, self.run_id, self.batch_ticks)
            self._segments[self._current.id] = self._current
        return self._current

    def rotate(self) -> str | None:
        """Seal the current segment (the one pending ticks were journaled in); the next
        append starts a new one. Returns the sealed segment's id (None if nothing pending)."""
        segment, self._current = self._current, None
        if segment is None:
            return None
        segment.sealed = True
        return segment.id

    def hold(self, segment_id: str | None) -> None:
        """A batch cut from this segment is not durable anywhere else yet."""
        if segment_id is not None:
            self._segments[segment_id].refs += 1

    def release(self, segment_id: str | None) -> None:
        """That batch is stored, spooled or quarantined: the segment owes it nothing more."""
        segment = self._segments.get(segment_id) if segment_id is not None else None
        if segment is not None:
            segment.refs -= 1
            self._delete_if_done(segment)

    def done_cutting(self, segment_id: str | None) -> None:
        """Every batch of this segment is held: it may go once they are all released."""
        segment = self._segments.get(segment_id) if segment_id is not None else None
        if segment is not None:
            self._delete_if_done(segment)

    def _delete_if_done(self, segment: _Segment) -> None:
        # Never while bytes of it wait for the committer: they are what callers wait on.
        if segment.sealed and segment.refs <= 0 and not segment.buffer and not segment.writing:
            if segment.handle is not None:
                segment.handle.close()
                segment.handle = None
            segment.path.unlink(missing_ok=True)
            self._segments.pop(segment.id, None)

    def stats(self) -> dict:
        return {
            "segments": len(self._segments),
            "bytes_written": self.bytes_written,
            "fsyncs": self.fsyncs,
            "error": None if self._error is None else str(self._error),
        }

    def close(self) -> None:
        for segment in self._segments.values():
            if segment.handle is not None:
                segment.handle.close()
                segment.handle = None


def _frame(payload: dict) -> bytes:
    data = orjson.dumps(payload)
    return _FRAME.pack(len(data), zlib.crc32(data)) + data


def _records(data: bytes) -> Iterator[dict]:
    """Whole records, stopping at the first torn or corrupt one (never acknowledged)."""
    offset = 0
    while offset + _FRAME.size <= len(data):
        length, crc = _FRAME.unpack_from(data, offset)
        start, end = offset + _FRAME.size, offset + _FRAME.size + length
        if end > len(data) or zlib.crc32(data[start:end]) != crc:
            if end < len(data):
                log.error("journal: a corrupt record inside a segment; the rest is skipped")
            return
        yield orjson.loads(data[start:end])
        offset = end


def _read(path: Path) -> Recovered | None:
    match = _NAME.fullmatch(path.name)
    records = _records(path.read_bytes())
    header = next(records, None)
    if match is None or header is None or "batch_ticks" not in header:
        return None
    recovered = Recovered(f"{match['seq']}-{match['run']}", int(header["batch_ticks"]))
    for record in records:
        ticks = recovered.ticks.setdefault(record["s"], [])
        ticks.extend(Tick(str(s), int(ts), float(p), float(v)) for s, ts, p, v in record["t"])
    return recovered
