"""A user's machine, simulated on this one: no local wheel folder, the canonical index answering.

`nox -s user_machine` runs the README's first command's path under it, so a dependency on a
folder that only exists on machines like this one cannot come back unnoticed. Each named index
of pyproject.toml (PyTorch's CPU index) is answered by a stand-in on 127.0.0.1 serving the very
files the lock names; its wheels leave the wheelhouse so they must come through it; and every
mirror folder is hidden under an empty mount in a mount namespace of the command's own (root),
or dropped from the configuration where that is not possible.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from packaging.utils import parse_wheel_filename

from toolkit import indexes, wheels
from toolkit.errors import ToolkitError


def _locked_files(index: indexes.Index) -> list[str]:
    """File names the lock takes from this index (their wheels' names)."""
    import tomllib

    lock = tomllib.loads((wheels.ROOT / "uv.lock").read_text())
    names = []
    for package in lock.get("package", []):
        if (package.get("source") or {}).get("registry", "").rstrip("/") == index.url:
            names += [w["url"].rsplit("/", 1)[-1].replace("%2B", "+") for w in package["wheels"]]
    return names


def _gather(index: indexes.Index, into: Path, log: Callable[[str], None]) -> list[Path]:
    """Move the index's locked wheels out of the wheelhouse into the stand-in's folder (taking
    them from a mirror when the wheelhouse lacks them); returns the wheelhouse paths emptied."""
    moved = []
    names = _locked_files(index)
    for name in names:
        parse_wheel_filename(name)  # a lock entry that is no wheel is a broken lock
        in_house = wheels.WHEELHOUSE / name
        if in_house.is_file():
            shutil.move(in_house, into / name)
            moved.append(in_house)
            continue
        mirror = next((m / name for m in index.mirrors if (m / name).is_file()), None)
        if mirror is None:
            raise ToolkitError(
                f"{name} is neither in the wheelhouse nor in a mirror of {index.name}",
                "run `inv wheels --services deep-learning` first",
            )
        os.link(mirror, into / name) if _same_device(mirror, into) else shutil.copy(mirror, into)
    log(f"stand-in for {index.name} serves {', '.join(names)}")
    return moved


def _same_device(a: Path, b: Path) -> bool:
    return a.stat().st_dev == b.stat().st_dev


@contextlib.contextmanager
def simulated(log: Callable[[str], None] = print) -> Iterator[tuple[dict, Callable]]:
    """Yields (environment, wrap): run `wrap(shell_command)` with that environment."""
    with (
        tempfile.TemporaryDirectory(prefix="tiered-standin-") as scratch,
        contextlib.ExitStack() as stack,
    ):
        env: dict[str, str] = {}
        overrides, moved, hidden = [], [], []
        for index in indexes.configured():
            folder = Path(scratch) / index.name
            folder.mkdir()
            moved += [(path, folder / path.name) for path in _gather(index, folder, log)]
            url = stack.enter_context(indexes.serve(folder, index.url))
            overrides.append(f"{index.name}={url}")
            hidden += [m for m in index.mirrors if m.is_dir()]
        env["UV_INDEX"] = " ".join(overrides)
        if hidden and os.geteuid() == 0 and shutil.which("unshare"):
            mounts = " && ".join(f"mount -t tmpfs tmpfs {shlex.quote(str(m))}" for m in hidden)
            log(f"hiding {', '.join(map(str, hidden))} under empty mounts")

            def wrap(command: str) -> list[str]:
                return ["unshare", "--mount", "sh", "-c", f"{mounts} && {command}"]
        else:
            env["TIERED_INDEX_MIRRORS"] = ""  # not root: the folders stay, unconfigured
            log("mirror folders dropped from the configuration (TIERED_INDEX_MIRRORS='')")

            def wrap(command: str) -> list[str]:
                return ["sh", "-c", command]

        try:
            yield env, wrap
        finally:
            for in_house, standin in moved:
                if not in_house.is_file() and standin.is_file():
                    shutil.move(standin, in_house)  # the run failed before downloading it


def check_output(output: str) -> None:
    """The run took every named index's files from its stand-in, never from a mirror."""
    for index in indexes.configured():
        if f"{index.name}: from http://127.0.0.1:" not in output:
            raise ToolkitError(
                f"the simulated user machine never downloaded from {index.name}'s stand-in",
                "read the output above",
            )
    if "using the mirror" in output:
        raise ToolkitError("the simulated user machine used a mirror folder", "it must not")
