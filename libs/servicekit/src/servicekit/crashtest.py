"""Crash tools for the suites' durability tests: see every fsync and rename a write makes, or
SIGKILL a process just before its Nth one.

Only tests import this module; nothing here runs in a production container.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable

WATCHED = ("fsync", "replace", "rename")

Hook = Callable[[str, list[str]], None]


def _path(target) -> str:
    if isinstance(target, int):  # fsync(fd): the file or directory it was opened on
        return os.readlink(f"/proc/self/fd/{target}")
    return os.path.abspath(target)


def wrappers(hook: Hook) -> dict[str, Callable]:
    """os.fsync, os.replace and os.rename calling `hook(operation, paths)` before each call."""

    def wrap(name: str, real: Callable) -> Callable:
        def watched(*args, **kwargs):
            hook(name, [_path(a) for a in args[:2]])
            return real(*args, **kwargs)

        return watched

    return {name: wrap(name, getattr(os, name)) for name in WATCHED}


def kill_at_each_step(steps: int, child: Callable[[int, Callable[[], None]], None]) -> None:
    """For each STEP in 1..steps, fork a process that runs `child(STEP, arm)`; once the child
    calls `arm()` (after its own setup), it is SIGKILLed just before its STEP-th fsync or
    rename. Prints "STEP exit C" for each (C < 0: a signal). The fork keeps what the parent
    imported, so each kill costs milliseconds, not a new interpreter."""
    for step in range(1, steps + 1):
        pid = os.fork()
        if pid == 0:
            calls = 0

            def kill(operation: str, paths: list[str], step: int = step) -> None:
                nonlocal calls
                calls += 1
                if calls == step:
                    os.kill(os.getpid(), signal.SIGKILL)

            def arm() -> None:
                for name, function in wrappers(kill).items():
                    setattr(os, name, function)

            child(step, arm)
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        print(step, "exit", os.waitstatus_to_exitcode(status), flush=True)
