"""The registry's files: JSON written atomically and durably (servicekit.files), read back,
synced and hashed."""

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from servicekit.files import write_atomic


def fsync_file(path: Path) -> None:
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())


def write_json_atomic(path: Path, value: Any) -> None:
    """Replace `path` with `value` as JSON, atomically and durably."""
    text = json.dumps(value, indent=2, sort_keys=True) + "\n"
    write_atomic(path, lambda out: out.write(text.encode("utf-8")))


def read_json(path: Path) -> Any:
    with open(path, encoding="utf-8") as source:
        return json.load(source)


def sha256_file(path: Path) -> str:
    """The file's sha256, hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        while chunk := source.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
