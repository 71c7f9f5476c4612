"""Durable, atomic file writes: a reader sees the old content or the new, never a part.

The content goes to a temporary file in the same directory, is flushed to disk (fsync), then
renamed over the target (atomic on POSIX within one file system); the directory is synced so
the rename itself survives a crash. ml-processing's model registry and deep-learning's
checkpoints both keep what they trained this way.
"""

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def fsync_dir(path: Path) -> None:
    """Make the directory's entries (a rename, a new file) durable; an error is raised."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(
    path: Path, write: Callable[[BinaryIO], object], *, prefix: str | None = None
) -> None:
    """Replace `path` with what `write` writes to the (binary) file it is handed, atomically
    and durably. The temporary file is `<prefix>*.tmp` beside it (`.<name>.` by default), so
    a service can recognise, and remove, what a crash left behind."""
    prefix = f".{path.name}." if prefix is None else prefix
    fd, temporary = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            write(out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)
