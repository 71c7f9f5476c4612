"""Docker's command line: one builder for this project's `docker compose ...`, one runner, and
one error for every command that fails (the command, its exit code and the tail of its output).

python-on-whales (toolkit.stack.compose) drives compose where its API fits; this is for what
needs the command line itself: streamed test output, a build log written as it comes, layered
compose files (dev mode), `docker import` fed from a pipe, version probes.
"""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from toolkit.errors import ToolkitError
from toolkit.names import COMPOSE_FILE, PROJECT

# How many lines of a failed command's output its error repeats.
TAIL_LINES = 20


class DockerCommandError(ToolkitError):
    """A docker command that exited non-zero: what ran, its exit code, its last lines."""

    def __init__(
        self, doing: str, argv: Sequence[str], code: int, output: str, fix: str = ""
    ) -> None:
        self.argv = list(argv)
        self.code = code
        self.tail = "\n".join(output.strip().splitlines()[-TAIL_LINES:])
        super().__init__(
            f"{doing} failed (exit {code}): {shlex.join(self.argv)}\n{self.tail}",
            fix or "read the lines above; `inv doctor` checks the engine",
        )


@dataclass(frozen=True)
class Compose:
    """This project's compose: its files, env file and active profiles."""

    env_file: Path
    files: tuple[Path, ...] = (COMPOSE_FILE,)
    profiles: tuple[str, ...] = ()
    project: str = PROJECT
    environment: Mapping[str, str] | None = field(default=None, compare=False)

    def argv(self, *arguments: str) -> list[str]:
        """`docker compose --project-name ... -f ... --profile ... <arguments>`."""
        argv = [
            "docker",
            "compose",
            "--project-name",
            self.project,
            "--env-file",
            str(self.env_file),
        ]
        for file in self.files:
            argv += ["-f", str(file)]
        for profile in self.profiles:
            argv += ["--profile", profile]
        return [*argv, *arguments]

    def run(self, *arguments: str, doing: str, log: IO[str] | None = None) -> str:
        """Run a compose command; its output (or, with `log`, the log's path) on failure."""
        return run(self.argv(*arguments), doing=doing, env=self.environment, log=log)

    def stream(self, *arguments: str) -> int:
        """Run a compose command on this terminal (output as it comes); its exit code."""
        return subprocess.run(self.argv(*arguments), env=self.environment, check=False).returncode


def run(
    argv: Sequence[str],
    *,
    doing: str,
    env: Mapping[str, str] | None = None,
    log: IO[str] | None = None,
    stdin: IO[bytes] | None = None,
    timeout: float | None = None,
    fix: str = "",
) -> str:
    """Run a docker command and return its output; DockerCommandError when it fails.

    With `log`, output goes to that file as it comes (a build log) and the error quotes its
    last lines."""
    if log is not None:
        result = subprocess.run(
            list(argv),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=stdin,
            env=dict(env) if env else None,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            log.flush()
            raise DockerCommandError(
                doing, argv, result.returncode, Path(log.name).read_text(), fix
            )
        return ""
    result = subprocess.run(
        list(argv),
        stdin=stdin,  # a pipe from another process (docker import), passed as it is
        capture_output=True,
        text=True,
        errors="replace",
        env=dict(env) if env else None,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise DockerCommandError(
            doing, argv, result.returncode, result.stderr or result.stdout, fix
        )
    return result.stdout


def probe(argv: Sequence[str]) -> subprocess.CompletedProcess | None:
    """A quiet probe (a version, a plugin); None when the command is missing or hangs."""
    try:
        return subprocess.run(list(argv), capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
