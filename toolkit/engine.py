"""The Docker engine and what it can do: the `doctor` checks, each with its fix."""

from __future__ import annotations

import functools
import os
import platform
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors

from toolkit.errors import ToolkitError

PROVISION_HINT = (
    "on Debian/Ubuntu run `sudo bash scripts/provision-debian.sh`; elsewhere start Docker Desktop"
)
PROBE_IMAGE = "python:3.11-slim-bookworm"
CA_CANDIDATES = (
    "/etc/ssl/certs/ca-certificates.crt",  # Debian, Ubuntu, Alpine
    "/etc/pki/tls/certs/ca-bundle.crt",  # Fedora, RHEL
    "/etc/ssl/cert.pem",  # macOS, BSD
)


@dataclass(frozen=True)
class Finding:
    check: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = True


@functools.cache
def client() -> docker.DockerClient:
    """A client for the engine, or a ToolkitError that says how to get one."""
    try:
        engine = docker.from_env(timeout=120)
        engine.ping()
    except docker.errors.DockerException as exc:
        raise ToolkitError(f"the Docker engine is not reachable ({exc})", PROVISION_HINT) from None
    return engine


def _ask(argv: list[str]) -> subprocess.CompletedProcess | None:
    """Run a probe command quietly; None when it is missing or hangs."""
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None


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
    except (docker.errors.APIError, docker.errors.DockerException):
        return False
    return True


def _pip_cert() -> str | None:
    result = _ask(["pip", "config", "get", "global.cert"])
    return (result.stdout.strip() or None) if result else None


def ca_bundle() -> Path:
    """The CA bundle builds hand to pip/uv as a secret: what the host's own tools trust, so a
    TLS-intercepting proxy that the host accepts is accepted inside builds too."""
    for variable in ("TIERED_CA_BUNDLE", "PIP_CERT", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"):
        value = os.environ.get(variable)
        if value and Path(value).is_file():
            return Path(value)
    for candidate in (_pip_cert(), *CA_CANDIDATES):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    try:
        import certifi

        return Path(certifi.where())
    except ImportError:
        raise ToolkitError(
            "no CA bundle found for builds", "set TIERED_CA_BUNDLE to a PEM file of trusted CAs"
        ) from None


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
