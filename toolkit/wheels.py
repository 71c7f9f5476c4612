"""The wheelhouse: every pinned wheel a service needs, for the interpreter inside the images.

Resolution comes from uv.lock (through each service's exported requirements.txt); markers are
evaluated for the image's own Python (asked of the image, never assumed from the host), and the
download is checked against the lock's hashes. `wheelhouse/manifest.json` records each wheel's
sha256 so a missing or corrupt file is named before a build trips over it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from packaging.markers import Marker
from packaging.utils import canonicalize_name, parse_wheel_filename

from toolkit import indexes, stack
from toolkit.catalog import ROOT, Service
from toolkit.envfile import ca_bundle
from toolkit.errors import ToolkitError
from toolkit.images import PYTHON

WHEELHOUSE = ROOT / "wheelhouse"
MANIFEST = WHEELHOUSE / "manifest.json"
# The tiers whose images CI proves buildable with no network at all (`nox -s offline_build`):
# every one. Tiers 3-5 cost ~1 GB of wheels (torch, catboost, xgboost, litellm) and a few
# minutes of cold builds per CI run; an air-gapped platform that only half builds is no use.
OFFLINE_TIERS = (1, 2, 3, 4, 5)
TARGET_PROBE = """
import json, os, platform, sys
libc = platform.libc_ver()
print(json.dumps({
    "implementation_name": sys.implementation.name,
    "implementation_version": platform.python_version(),
    "os_name": os.name,
    "platform_machine": platform.machine(),
    "platform_python_implementation": platform.python_implementation(),
    "platform_release": "",
    "platform_system": platform.system(),
    "platform_version": "",
    "python_full_version": platform.python_version(),
    "python_version": ".".join(platform.python_version_tuple()[:2]),
    "sys_platform": sys.platform,
    "glibc": libc[1],
}))
"""


@dataclass(frozen=True)
class Pin:
    name: str
    version: str
    hashes: tuple[str, ...]
    marker: str | None

    def applies(self, target: dict) -> bool:
        return self.marker is None or Marker(self.marker).evaluate(
            {k: v for k, v in target.items() if k != "glibc"}
        )


def parse_requirements(text: str) -> list[Pin]:
    """Read a `uv export` requirements file (continuation lines, markers, hashes)."""
    joined = re.sub(r"\\\n\s*", " ", text)
    pins = []
    for line in joined.splitlines():
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        spec, _, marker = line.partition(";")
        hashes = tuple(re.findall(r"--hash=sha256:([0-9a-f]{64})", line))
        marker = marker.split("--hash", 1)[0].strip() or None
        name, _, version = spec.split("--hash", 1)[0].strip().partition("==")
        if not version:
            raise ToolkitError(f"unpinned requirement {spec.strip()!r}", "run `inv render`")
        pins.append(Pin(str(canonicalize_name(name)), version.strip(), hashes, marker))
    return pins


def target_environment() -> dict:
    """Marker values of the Python inside the runtime image (e.g. 3.11.2, not the host's)."""
    output = stack.client().containers.run(
        PYTHON.tag, ["python3", "-c", TARGET_PROBE], remove=True, network_disabled=True
    )
    return json.loads(output)


def requirements_of(service: Service, dev: bool = False) -> list[Pin]:
    path = service.directory / ("requirements-dev.txt" if dev else "requirements.txt")
    if not path.is_file():
        raise ToolkitError(f"{path.relative_to(ROOT)} is missing", "run `inv render`")
    return parse_requirements(path.read_text())


def load_manifest() -> dict:
    if not MANIFEST.is_file():
        return {"target": None, "wheels": {}, "services": {}}
    try:
        return json.loads(MANIFEST.read_text())
    except json.JSONDecodeError:
        raise ToolkitError(
            f"{MANIFEST.relative_to(ROOT)} is not valid JSON",
            "delete it and run `inv wheels` again",
        ) from None


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in blocks (wheels can be hundreds of MB)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _wheel_for(pin: Pin, files: dict[str, str]) -> str | None:
    """The wheelhouse file (by name -> sha256) that satisfies a pin, if any."""
    for filename, sha in files.items():
        name, version, _, _ = parse_wheel_filename(filename)
        if name == pin.name and str(version) == str(pin.version) and sha in pin.hashes:
            return filename
    return None


def sources_for(pins: list[Pin], progress=print) -> list[str]:
    """pip's arguments for the named indexes these pins are locked from (PyTorch's CPU index
    for torch): the index itself, or its mirror folder when it cannot be reached (said)."""
    locked = indexes.locked_packages()
    needed = {locked[p.name].name: locked[p.name] for p in pins if p.name in locked}
    args = []
    for index in needed.values():
        source = indexes.source_for(index)
        progress(source.describe())
        args += source.pip_args()
    return args


def _download(pins: list[Pin], target: dict, dest: Path, progress=print) -> None:
    """pip download, for the image's platform and Python, each pin checked against its hashes."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as handle:
        for pin in pins:
            hashes = " ".join(f"--hash=sha256:{h}" for h in pin.hashes)
            handle.write(f"{pin.name}=={pin.version} {hashes}\n")
        requirements = handle.name
    machine = target["platform_machine"]
    major, _, minor = (target["glibc"] or "2.17").partition(".")
    # pip does not widen an explicit --platform, so list every manylinux tag the image's glibc
    # accepts, newest first (PEP 600, plus the legacy aliases).
    platforms = [f"manylinux_{major}_{m}_{machine}" for m in range(int(minor), 4, -1)]
    platforms += [
        f"manylinux2014_{machine}",
        f"manylinux2010_{machine}",
        f"manylinux1_{machine}",
        f"linux_{machine}",
    ]
    version = target["python_version"].replace(".", "")
    # The indexes uv locks from besides PyPI (torch's CPU build), or their mirrors.
    links = sources_for(pins, progress)
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        *links,
        "--quiet",
        "--no-deps",
        "--only-binary=:all:",
        "--require-hashes",
        "-r",
        requirements,
        "--dest",
        str(dest),
        "--python-version",
        target["python_full_version"],
        "--implementation",
        "cp",
        "--abi",
        f"cp{version}",
        "--abi",
        "abi3",
        "--abi",
        "none",
    ]
    for tag in platforms:
        command += ["--platform", tag]
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PIP_CERT": str(ca_bundle())},
    )
    Path(requirements).unlink(missing_ok=True)
    if result.returncode != 0:
        lines = [ln for ln in result.stderr.splitlines() if "WARNING: Location" not in ln]
        raise ToolkitError(
            "downloading wheels failed:\n" + "\n".join(lines[-12:]),
            "check the index is reachable (`inv doctor`), or that every package "
            "has a wheel for this platform",
        )


def fill(services: list[Service], progress=print) -> dict:
    """Download what the services' lock slices need and is not already in the wheelhouse."""
    WHEELHOUSE.mkdir(exist_ok=True)
    manifest = load_manifest()
    target = target_environment()
    if manifest.get("target") and manifest["target"] != target:
        progress(
            f"image interpreter changed ({manifest['target'].get('python_full_version')} -> "
            f"{target['python_full_version']}): re-checking every wheel"
        )
    manifest["target"] = target
    files: dict[str, str] = {
        name: entry["sha256"]
        for name, entry in manifest.get("wheels", {}).items()
        if (WHEELHOUSE / name).is_file()
    }
    started = time.perf_counter()
    for service in services:
        pins = [p for p in requirements_of(service, dev=True) if p.applies(target)]
        wanted = [p for p in pins if _wheel_for(p, files) is None]
        if wanted:
            progress(f"{service.name}: downloading {len(wanted)} of {len(pins)} wheels")
            before = {p.name for p in WHEELHOUSE.glob("*.whl")}
            _download(wanted, target, WHEELHOUSE, progress)
            for path in WHEELHOUSE.glob("*.whl"):
                if path.name not in before or path.name not in files:
                    files[path.name] = sha256_file(path)
        else:
            progress(f"{service.name}: all {len(pins)} wheels present")
        prod = [p for p in requirements_of(service) if p.applies(target)]
        manifest.setdefault("services", {})[service.name] = sorted(
            f for p in prod if (f := _wheel_for(p, files))
        )
        manifest["services"][f"{service.name}:dev"] = sorted(
            f for p in pins if (f := _wheel_for(p, files))
        )
    manifest["wheels"] = {
        name: {"sha256": sha, "bytes": (WHEELHOUSE / name).stat().st_size}
        for name, sha in sorted(files.items())
    }
    manifest["seconds"] = round(time.perf_counter() - started, 1)
    MANIFEST.write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def verify(services: list[Service]) -> dict[str, list[str]]:
    """Problems per service: a wheel missing from the wheelhouse, or one whose bytes no longer
    match the manifest and the lock. An empty list means the build can run with no index."""
    manifest = load_manifest()
    target = manifest.get("target")
    wheels = manifest.get("wheels", {})
    problems: dict[str, list[str]] = {}
    checked: dict[str, str | None] = {}
    for service in services:
        issues = []
        if target is None:
            problems[service.name] = ["no wheelhouse yet (run `inv wheels`)"]
            continue
        for pin in (p for p in requirements_of(service, dev=True) if p.applies(target)):
            filename = _wheel_for(pin, {n: e["sha256"] for n, e in wheels.items()})
            if filename is None:
                issues.append(f"missing wheel for {pin.name}=={pin.version}")
                continue
            if filename not in checked:
                path = WHEELHOUSE / filename
                checked[filename] = None if not path.is_file() else sha256_file(path)
            actual = checked[filename]
            if actual is None:
                issues.append(f"missing file {filename}")
            elif actual != wheels[filename]["sha256"]:
                issues.append(
                    f"corrupt wheel {filename} (sha256 {actual[:12]}…, expected "
                    f"{wheels[filename]['sha256'][:12]}…): delete it and run `inv wheels`"
                )
        problems[service.name] = issues
    return problems
