"""What both sides of the build benchmark share: the paths a build context leaves out, hard
links into a context, and a timed `docker compose build` with its plain log (ours in
toolkit/bench/measure/build.py, the seed strategy's in toolkit/bench/measure/seed_strategy.py).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from toolkit.errors import ToolkitError

IGNORED = (".git", ".venv", ".nox", ".cache", ".*_cache", "__pycache__", "node_modules", ".env")

Progress = Callable[[str], None]


def link(path: Path, dest: Path) -> None:
    """A hard link into a build context, or a copy on another file system (same content)."""
    try:
        os.link(path, dest)
    except OSError:  # another file system: a copy has the same content
        shutil.copy2(path, dest)


def compose_build(argv: list[str], name: str, cache: bool, log: Path, what: str) -> float:
    """`docker compose ... build [--no-cache] NAME` timed, its plain output in `log`."""
    command = [*argv, "build", *([] if cache else ["--no-cache"]), name]
    log.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with log.open("w") as handle:
        result = subprocess.run(
            command,
            stdout=handle,
            stderr=subprocess.STDOUT,
            env={**os.environ, "BUILDKIT_PROGRESS": "plain"},
            check=False,
        )
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
        raise ToolkitError(
            f"{what}: build failed (exit {result.returncode}):\n{tail}", f"full log: {log}"
        )
    return seconds
