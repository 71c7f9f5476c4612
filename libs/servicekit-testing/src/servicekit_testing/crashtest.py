"""Crash tools for the suites' durability tests: see every fsync and rename a write makes, or
SIGKILL a process just before its Nth one.

Only tests import this module; nothing here runs in a production container.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx

import servicekit_testing as testing

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


@contextlib.contextmanager
def served(
    root: Path, env: dict[str, str], port: int, log: Path, within: float = 60
) -> Iterator[tuple[subprocess.Popen, httpx.Client]]:
    """The service in `root` under uvicorn in a process of its own, healthy, with a client;
    killed at the end at the latest (its output goes to `log`)."""
    argv = [sys.executable, "-m", "uvicorn", "app.main:app", "--port", str(port)]
    with open(log, "ab") as output:
        process = subprocess.Popen(argv, cwd=root, env=env, stdout=output, stderr=output)
    try:
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}", headers=testing.internal_headers(), timeout=30
        ) as client:
            deadline = time.monotonic() + within
            while True:
                assert process.poll() is None, log.read_text()
                with contextlib.suppress(httpx.TransportError):
                    if client.get("/health").status_code == 200:
                        break
                assert time.monotonic() < deadline, f"the service did not start in {within} s"
                time.sleep(0.1)
            yield process, client
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


def kill_9(process: subprocess.Popen) -> None:
    """SIGKILL a served process, as a crash would, and see it die of it."""
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=30) == -signal.SIGKILL
