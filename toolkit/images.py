"""Base and infrastructure images: pulled when a registry answers, built locally when not.

Every other command refers to images by their local names (`tiered/...`), so it works the same
online and air-gapped. Local builds are idempotent: an image carries a label with the hash of
its recipe and is rebuilt only when the recipe changes.
"""

from __future__ import annotations

import hashlib
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from toolkit import engine, stack
from toolkit.catalog import ROOT
from toolkit.console import console, mb, step
from toolkit.errors import ToolkitError
from toolkit.names import PROJECT, local_image
from toolkit.stack.sdk import PROVISION_HINT, APIError, ImageNotFound

IMAGES_DIR = ROOT / "images"
LABEL = "tiered.recipe"
SUITE = "bookworm"


@dataclass(frozen=True)
class Recipe:
    name: str
    tag: str
    upstream: str | None  # pulled (and tagged as `tag`) when the registry answers
    base_online: str | None = None  # BASE build arg online, when built rather than pulled
    base_offline: str | None = None  # BASE build arg offline
    on_demand: bool = False  # made only when asked for (`--only`, or a command that needs it)


DEBIAN = Recipe("debian", local_image("debian", SUITE), "debian:bookworm-slim")
PYTHON = Recipe(
    "python", local_image("python", "3.11"), None, "python:3.11-slim-bookworm", DEBIAN.tag
)
PYTHON_BUILD = Recipe(
    "python-build", local_image("python-build", "3.11"), None, PYTHON.tag, PYTHON.tag
)
PYTHON_SLIM = Recipe(
    "python-slim", local_image("python-slim", "3.11"), None, PYTHON.tag, PYTHON.tag
)
RECIPES = (
    DEBIAN,
    PYTHON,
    PYTHON_BUILD,
    PYTHON_SLIM,
    Recipe("postgres", local_image("postgres", "15"), "postgres:15-bookworm", None, DEBIAN.tag),
    Recipe("redis", local_image("redis", "7"), "redis:7-bookworm", None, DEBIAN.tag),
    Recipe(
        "clickhouse",
        local_image("clickhouse", "latest"),
        "clickhouse/clickhouse-server:24.8",
        None,
        DEBIAN.tag,
    ),
)
INFRA_TAGS = {r.name: r.tag for r in RECIPES if r.name in ("postgres", "redis", "clickhouse")}
# A registry for swarms that have none (`inv deploy --registry local`): not part of the stack.
REGISTRY = Recipe(
    "registry", local_image("registry", "2"), "registry:2", None, DEBIAN.tag, on_demand=True
)
ALL_RECIPES = (*RECIPES, REGISTRY)


@dataclass
class Outcome:
    recipe: Recipe
    source: str  # pulled, built, present
    size: int
    seconds: float


def _digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part)
        h.update(b"\0")
    return h.hexdigest()[:16]


def recipe_hash(recipe: Recipe, base_id: str = "") -> str:
    """Hash of everything that shapes a locally built image: its files and its base."""
    files = sorted(p for p in (IMAGES_DIR / recipe.name).rglob("*") if p.is_file())
    parts = [p.relative_to(IMAGES_DIR).as_posix().encode() + p.read_bytes() for p in files]
    if recipe is DEBIAN:
        parts.append(Path(__file__).read_bytes())  # the debootstrap steps live in this module
    if recipe is PYTHON_BUILD:
        parts.append(_uv_version().encode())
    return _digest(*parts, base_id.encode())


def _existing(tag: str):
    try:
        return stack.client().images.get(tag)
    except ImageNotFound:
        return None


def debian_mirror() -> str:
    """The Debian mirror apt on this host uses (debootstrap must reach the same one)."""
    listed = sorted(Path("/etc/apt/sources.list.d").glob("*.sources")) + sorted(
        Path("/etc/apt/sources.list.d").glob("*.list")
    )
    for source in [Path("/etc/apt/sources.list"), *listed]:
        if not source.is_file():
            continue
        text = source.read_text(errors="replace")
        for match in re.finditer(r"(?m)^(?:deb\s+(?:\[[^]]*\]\s+)?|URIs:\s*)(\S+)", text):
            url = match.group(1)
            # The main archive, not security updates or third-party repositories.
            if url.rstrip("/").endswith("/debian") and url.startswith(("http://", "https://")):
                return url.rstrip("/")
    return "http://deb.debian.org/debian"


def _build_debian(recipe: Recipe, label: str) -> None:
    """Debian 12 minbase via debootstrap, trimmed, imported as one layer."""
    if shutil.which("debootstrap") is None:
        raise ToolkitError(
            "no registry answers and debootstrap is missing",
            "apt-get install debootstrap (or run scripts/provision-debian.sh)",
        )
    if os.geteuid() != 0:
        raise ToolkitError(
            "debootstrap needs root to make the offline base image",
            "run `sudo .venv/bin/inv images` once",
        )
    mirror = debian_mirror()
    with tempfile.TemporaryDirectory(prefix="tiered-rootfs-", dir="/var/tmp") as tmp:
        rootfs = Path(tmp) / "rootfs"
        log = Path(tmp) / "debootstrap.log"
        with log.open("w") as out:
            result = subprocess.run(
                ["debootstrap", "--variant=minbase", SUITE, str(rootfs), mirror],
                stdout=out,
                stderr=subprocess.STDOUT,
                check=False,
            )
        if result.returncode != 0:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
            raise ToolkitError(
                f"debootstrap from {mirror} failed:\n{tail}",
                "check that apt on this host can reach its mirror",
            )
        (rootfs / "etc/apt/sources.list").write_text(
            f"deb {mirror} {SUITE} main\ndeb {mirror} {SUITE}-updates main\n"
        )
        # Keep the image small: index files and caches are re-fetched by `apt-get update`.
        for pattern in (
            "var/lib/apt/lists/*",
            "var/cache/apt/*.bin",
            "var/cache/apt/archives/*.deb",
            "usr/share/doc/*",
            "usr/share/man/*",
            "usr/share/info/*",
            "usr/share/locale/*",
            "var/log/*",
        ):
            for path in rootfs.glob(pattern):
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink(missing_ok=True)
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        stack.run(
            [
                "docker",
                "import",
                "--change",
                "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "--change",
                "ENV LANG=C.UTF-8",
                "--change",
                f"LABEL {LABEL}={label}",
                "--change",
                'CMD ["bash"]',
                "-",
                recipe.tag,
            ],
            doing=f"importing the Debian root file system as {recipe.tag}",
            stdin=tar.stdout,
            fix=PROVISION_HINT,
        )
        tar.wait()


def _uv_version() -> str:
    result = subprocess.run(
        [_uv_binary_host(), "--version"], capture_output=True, text=True, check=True
    )
    return result.stdout.split()[1]


def _uv_binary_host() -> str:
    try:
        from uv import find_uv_bin

        return find_uv_bin()
    except (ImportError, FileNotFoundError):
        found = shutil.which("uv")
        if not found:
            raise ToolkitError("uv is not installed", "run `uv sync` in the repository") from None
        return found


def _uv_binary_for_image(dest: Path) -> None:
    """Put a Linux uv binary of the toolkit's pinned version at `dest`: the host's own when
    the host is Linux on the engine's architecture, else the matching wheel from the index."""
    arch = stack.client().info().get("Architecture", "x86_64")
    if sys.platform == "linux" and platform.machine() == arch:
        shutil.copy2(_uv_binary_host(), dest)
        return
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                f"uv=={_uv_version()}",
                "--no-deps",
                "--only-binary=:all:",
                "--platform",
                f"manylinux_2_17_{arch}",
                "-d",
                tmp,
            ],
            check=True,
            capture_output=True,
        )
        import zipfile

        wheel = next(Path(tmp).glob("uv-*.whl"))
        with zipfile.ZipFile(wheel) as archive:
            member = next(n for n in archive.namelist() if n.endswith("/scripts/uv"))
            dest.write_bytes(archive.read(member))
    dest.chmod(0o755)


def _build_dockerfile(recipe: Recipe, base: str, label: str) -> None:
    """Build images/<name>/ with the engine's classic builder (no buildx needed)."""
    with tempfile.TemporaryDirectory(prefix=f"tiered-{recipe.name}-") as tmp:
        context = Path(tmp) / "context"
        shutil.copytree(IMAGES_DIR / recipe.name, context)
        if recipe is PYTHON_BUILD:
            _uv_binary_for_image(context / "uv")
        lines: list[str] = []
        try:
            for chunk in stack.client().api.build(
                path=str(context),
                tag=recipe.tag,
                buildargs={"BASE": base},
                rm=True,
                forcerm=True,
                decode=True,
                labels={LABEL: label},
                pull=False,
            ):
                if "stream" in chunk:
                    lines.extend(chunk["stream"].rstrip().splitlines())
                if "error" in chunk:
                    tail = "\n".join(lines[-20:])
                    raise ToolkitError(
                        f"building {recipe.tag} failed: {chunk['error']}\n{tail}",
                        "see the build output above",
                    )
        except APIError as exc:
            raise ToolkitError(f"building {recipe.tag} failed: {exc}", PROVISION_HINT) from None


def _pull(upstream: str, tag: str) -> None:
    repository, _, version = upstream.rpartition(":")
    image = stack.client().images.pull(repository, tag=version)
    repo, _, local_tag = tag.rpartition(":")
    image.tag(repo, local_tag)


def ensure(recipe: Recipe, online: bool, rebuild: bool = False) -> Outcome:
    started = time.perf_counter()
    existing = _existing(recipe.tag)
    if online and recipe.upstream:
        if existing is None or rebuild:
            _pull(recipe.upstream, recipe.tag)
            source = "pulled"
        else:
            source = "present"
    else:
        base = (recipe.base_online if online else recipe.base_offline) or ""
        base_image = _existing(base) if base else None
        if base and base_image is None and online and not base.startswith(f"{PROJECT}/"):
            _pull(base, base)
            base_image = _existing(base)
        if base and base_image is None:
            raise ToolkitError(f"{recipe.tag} needs {base}, which is missing", "run `inv images`")
        label = recipe_hash(recipe, base_image.id if base_image else "")
        if existing is not None and not rebuild and existing.labels.get(LABEL) == label:
            source = "present"
        elif recipe is DEBIAN:
            _build_debian(recipe, label)
            source = "built"
        else:
            _build_dockerfile(recipe, base, label)
            source = "built"
    image = stack.client().images.get(recipe.tag)
    return Outcome(recipe, source, int(image.attrs.get("Size", 0)), time.perf_counter() - started)


def ensure_all(names: list[str] | None = None, rebuild: bool = False) -> list[Outcome]:
    """Make every base and infrastructure image available, in dependency order."""
    wanted = [r for r in ALL_RECIPES if (r.name in names if names else not r.on_demand)]
    unknown = set(names or []) - {r.name for r in ALL_RECIPES}
    if unknown:
        raise ToolkitError(
            f"unknown image {', '.join(sorted(unknown))}",
            f"choose from: {', '.join(r.name for r in ALL_RECIPES)}",
        )
    online = engine.registry_reachable()
    console.print(f"registry {'answers: pulling' if online else 'unreachable: building locally'}")
    outcomes = []
    for recipe in wanted:
        with step(f"{recipe.tag}") as note:
            outcome = ensure(recipe, online, rebuild)
            note["note"] = f"{outcome.source}, {mb(outcome.size)}"
        outcomes.append(outcome)
    return outcomes


def missing() -> list[str]:
    """Tags of base/infrastructure images the engine does not have yet."""
    return [r.tag for r in RECIPES if _existing(r.tag) is None]


def prune() -> tuple[int, int, int]:
    """Remove what builds leave behind: dangling images (older builds of a tag) and the
    build cache. Returns (images removed, cache records removed, bytes reclaimed). Named
    images, containers and volumes are kept; the next build of each image is cold."""
    api = stack.client().api
    dangling = api.prune_images(filters={"dangling": True})
    cache = api.prune_builds()
    reclaimed = (dangling.get("SpaceReclaimed") or 0) + (cache.get("SpaceReclaimed") or 0)
    return (
        len(dangling.get("ImagesDeleted") or []),
        len(cache.get("CachesDeleted") or []),
        reclaimed,
    )
