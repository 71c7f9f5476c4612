"""Crash tools: see every fsync and rename a write makes, or SIGKILL the process at one.

`python -m tests.crashing BASE STEPS`: see main().
"""

import pickle
import sys
from pathlib import Path

from servicekit_testing.crashtest import kill_at_each_step, wrappers

ROOT = Path(__file__).resolve().parents[1]  # /app: where `python -m tests.crashing` runs
SOURCE = {"symbol": "EURUSD", "interval": "1h", "candles": 600}

__all__ = ["ROOT", "SOURCE", "main", "wrappers"]


def main(base: str, steps: int) -> None:
    """For each STEP in 1..steps, a forked process saves the pickled forecaster into
    base/kill-at-STEP, SIGKILLed just before its STEP-th fsync or rename; one line each for
    what it acknowledged ("STEP saved N") and how it ended ("STEP exit C", C < 0: a signal)."""
    import torch

    from app.forecasting.checkpoints import CheckpointStore

    with open(Path(base) / "trained.pkl", "rb") as source:
        trained = pickle.load(source)  # noqa: S301 - written by the test that runs us

    def child(step: int, arm) -> None:
        store = CheckpointStore(Path(base) / f"kill-at-{step}", torch.device("cpu"), 2)
        store.scan()
        arm()  # the steps counted are the save's
        print(step, "saved", store.save(trained, SOURCE)["version"], flush=True)

    kill_at_each_step(steps, child)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
