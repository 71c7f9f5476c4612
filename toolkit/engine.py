"""The Docker engine and what it can do: the `doctor` checks, each with its fix (asked
through toolkit.stack, like everything else that talks to Docker)."""

from __future__ import annotations

import functools
import os
import platform
import shutil
from dataclasses import dataclass
from pathlib import Path

from toolkit.envfile import ca_bundle
from toolkit.errors import ToolkitError
from toolkit.stack.command import probe as _ask
from toolkit.stack.sdk import PROVISION_HINT, SDKError, client

PROBE_IMAGE = "python:3.11-slim-bookworm"


@dataclass(frozen=True)
class Finding:
    check: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = True


def compose_version() -> str | None:
    """The compose v2 plugin's version, or None when `docker compose` is missing."""
    result = _ask(["docker", "compose", "version", "--short"])
    version = result.stdout.strip().lstrip("v") if result else ""
    return version if result and result.returncode == 0 and version[:1].isdigit() else None


def has_buildx() -> bool:
    result = _ask(["docker", "buildx", "version"])
    return result is not None and result.returncode == 0


@functools.cache
def registry_reachable(image: str = PROBE_IMAGE) -> bool:
    """Ask the engine for an image's manifest: no download, and a quick 'no' when offline."""
    if os.environ.get("TIERED_OFFLINE") == "1":
        return False
    try:
        client().api.inspect_distribution(image)
    except SDKError:
        return False
    return True


def doctor() -> list[Finding]:
    """Everything the toolkit needs from this machine, each with a fix when it is missing."""
    findings: list[Finding] = []
    try:
        engine = client()
        info = engine.info()
        findings.append(
            Finding("Docker engine", True, f"{info.get('ServerVersion')} ({info.get('Driver')})")
        )
    except ToolkitError as exc:
        findings.append(Finding("Docker engine", False, exc.problem, exc.fix))
        info = None
    version = compose_version()
    findings.append(
        Finding("compose v2", True, version)
        if version
        else Finding("compose v2", False, "`docker compose` is missing", PROVISION_HINT)
    )
    if info is not None:
        findings.append(
            Finding(
                "BuildKit",
                True,
                "compose builds use BuildKit through the engine"
                + (
                    "; buildx present"
                    if has_buildx()
                    else "; no buildx, so plain `docker build` "
                    "is the legacy builder (the toolkit builds through compose)"
                ),
            )
        )
        online = registry_reachable()
        findings.append(
            Finding(
                "registry",
                True,
                "answers: base images are pulled"
                if online
                else "unreachable: base images are built locally (offline mode)",
                required=False,
            )
        )
        if not online:
            has_debootstrap = shutil.which("debootstrap") is not None
            findings.append(
                Finding(
                    "debootstrap",
                    has_debootstrap,
                    "present"
                    if has_debootstrap
                    else "missing (needed to make base images offline)",
                    "" if has_debootstrap else "apt-get install debootstrap",
                )
            )
        root = Path(info.get("DockerRootDir", "/var/lib/docker"))
        usage = shutil.disk_usage(root if root.exists() else Path.cwd())
        free_gb = usage.free / 1e9
        findings.append(
            Finding(
                "free disk",
                free_gb >= 15,
                f"{free_gb:.0f} GB free under {root if root.exists() else Path.cwd()}",
                "free space: `docker system prune` or `inv images --prune`" if free_gb < 15 else "",
            )
        )
    try:
        findings.append(Finding("CA bundle for builds", True, str(ca_bundle())))
    except ToolkitError as exc:
        findings.append(Finding("CA bundle for builds", False, exc.problem, exc.fix))
    findings.append(
        Finding(
            "host",
            True,
            f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs",
            required=False,
        )
    )
    return findings
