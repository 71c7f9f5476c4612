"""Crash tools: see every fsync and rename a write makes, or SIGKILL the process at one.

`python -m tests.crashing BASE STEPS`: see main().
"""

import os
import pickle
import signal
import sys
from collections.abc import Callable
from pathlib import Path

WATCHED = ("fsync", "replace", "rename")
ROOT = Path(__file__).resolve().parents[1]  # /app: where `python -m tests.crashing` runs
SOURCE = {"symbol": "EURUSD", "interval": "1h", "candles": 600}

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


def main(base: str, steps: int) -> None:
    """For each STEP in 1..steps, a forked process saves the pickled forecaster into
    base/kill-at-STEP, SIGKILLed just before its STEP-th fsync or rename; one line each for
    what it acknowledged ("STEP saved N") and how it ended ("STEP exit C", C < 0: a signal)."""
    import torch

    from app.forecasting.checkpoints import CheckpointStore

    with open(Path(base) / "trained.pkl", "rb") as source:
        trained = pickle.load(source)  # noqa: S301 - written by the test that runs us
    for step in range(1, steps + 1):
        pid = os.fork()  # one process per kill, without importing torch again
        if pid == 0:
            store = CheckpointStore(Path(base) / f"kill-at-{step}", torch.device("cpu"), 2)
            _child(store, trained, step)
        _, status = os.waitpid(pid, 0)
        print(step, "exit", os.waitstatus_to_exitcode(status), flush=True)


def _child(store, trained, step: int) -> None:
    store.scan()
    calls = 0

    def kill(operation: str, paths: list[str]) -> None:
        nonlocal calls
        calls += 1
        if calls == step:
            os.kill(os.getpid(), signal.SIGKILL)

    for name, function in wrappers(kill).items():
        setattr(os, name, function)
    print(step, "saved", store.save(trained, SOURCE)["version"], flush=True)
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
