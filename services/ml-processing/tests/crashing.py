"""Crash tools: see every fsync and rename a write makes, or SIGKILL the process at one.

`python -m tests.crashing BASE STEPS`: see main().
"""

import pickle
import sys
from pathlib import Path

from servicekit_testing.crashtest import kill_at_each_step, wrappers

ROOT = Path(__file__).resolve().parents[1]  # /app: where `python -m tests.crashing` runs

__all__ = ["ROOT", "main", "wrappers"]


def main(base: str, steps: int) -> None:
    """For each STEP in 1..steps, a forked process saves and promotes the pickled model in
    base/kill-at-STEP, SIGKILLed just before its STEP-th fsync or rename; one line each for
    what it acknowledged ("STEP saved N", "STEP promoted N") and how it ended ("STEP exit C",
    C negative for a signal)."""
    from app import features
    from app.registry import Registry

    with open(Path(base) / "model.pkl", "rb") as source:
        trained = pickle.load(source)  # noqa: S301 - written by the test that runs us

    def child(step: int, arm) -> None:
        registry = Registry(str(Path(base) / f"kill-at-{step}"), loaded_versions=2)
        registry.open()
        arm()  # the steps counted are the save's and the promotion's
        version = registry.save(trained, "sklearn", features.FEATURES)["version"]
        print(step, "saved", version, flush=True)
        registry.promote(version)
        print(step, "promoted", version, flush=True)

    kill_at_each_step(steps, child)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
