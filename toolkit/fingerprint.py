"""Skip what has not changed: a fingerprint of everything a service's build or test run depends
on, recorded at its last success and compared before the next one.

A fingerprint is a sha256 over named inputs (each with its own digest, so a new run can say
*what* changed):

- ``file:`` every file of ``services/<name>/``, ``libs/servicekit/`` and
  ``libs/servicekit-testing/`` (caches excluded; the test images install the second),
  among them the generated Dockerfile; ``lock:`` its exported requirements files (the service's
  slice of uv.lock);
- ``wheel:`` the wheelhouse manifest's sha256 of each wheel the service's image installs;
- ``image:`` the engine's id of the base images (and, for tests, of the infrastructure and
  dependency images the suite runs against);
- ``compose`` the service's generated compose definition (build section, or for tests the whole
  test container: its environment shapes the run); ``args`` extra arguments (pytest's).

Purposes: ``build`` (production image), ``build-test``, ``build-application`` (dev image) and
``tests`` (the suite in its container). Records live in ``.cache/state/<purpose>-<service>.json``
(``.cache`` is git-ignored, like ``.cache/build-logs``). A build also records the id of the
image it made, so a build is skipped only while that very image is still there.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from toolkit import composefile, stack
from toolkit.catalog import ROOT, Catalog, Service
from toolkit.errors import ToolkitError
from toolkit.images import INFRA_TAGS, PYTHON, PYTHON_BUILD
from toolkit.names import Stage, image, test_container
from toolkit.wheels import sha256_file

STATE_DIR = ROOT / ".cache" / "state"
FORCE_ENV = "TIERED_FORCE"
FORCE_FLAG = "--force"
# purpose (the key of its record) -> the stage whose image it makes (None: a test run makes
# no image)
PURPOSES: dict[str, Stage | None] = {
    "build": Stage.PRODUCTION,
    "build-application": Stage.APPLICATION,
    "build-test": Stage.TEST,
    "tests": None,
}
BASE_IMAGES = (PYTHON.tag, PYTHON_BUILD.tag)
IGNORED_DIRS = frozenset(
    {
        "__pycache__",
        ".pytest_cache",
        ".ruff_cache",
        ".mypy_cache",
        ".hypothesis",
        ".benchmarks",
        ".nox",
        ".venv",
        ".git",
        "node_modules",
    }
)
IGNORED_SUFFIXES = (".pyc", ".pyo", ".swp", ".swo", "~")
IGNORED_NAMES = frozenset({".DS_Store", ".coverage"})
LOCK_FILES = frozenset({"requirements.txt", "requirements-dev.txt"})
MISSING = "missing"

ImageId = Callable[[str], str | None]


def build_purpose(target: str) -> str:
    """The purpose of `inv build --target T`: production -> build, test -> build-test, ..."""
    stage = Stage.of(target)
    return next(purpose for purpose, made in PURPOSES.items() if made is stage)


def _check_purpose(purpose: str) -> None:
    if purpose not in PURPOSES:
        raise ToolkitError(f"unknown purpose {purpose!r}", f"choose one of: {', '.join(PURPOSES)}")


def image_tag(service: Service, purpose: str) -> str | None:
    _check_purpose(purpose)
    stage = PURPOSES[purpose]
    return None if stage is None else image(service.name, stage)


def engine_image_id(tag: str) -> str | None:
    """The engine's id of a local image, or None when it has no such image."""
    return stack.image_id(tag)


def source_files(directory: Path) -> Iterator[Path]:
    """Files under `directory`, in a stable order, without caches and editor leftovers."""
    if not directory.is_dir():
        return
    for current, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if d not in IGNORED_DIRS)
        for name in sorted(files):
            if name in IGNORED_NAMES or name.endswith(IGNORED_SUFFIXES):
                continue
            yield Path(current) / name


def _sha256_json(data: object) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def _manifest(root: Path) -> dict | None:
    path = root / "wheelhouse" / "manifest.json"
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError:
        return {"wheels": {}, "services": {}, "corrupt": True}


def _compose_definition(catalog: Catalog, service: Service, purpose: str) -> object:
    if purpose == "tests":
        return composefile.compose_tests(catalog)["services"].get(test_container(service.name))
    build = dict(composefile.compose(catalog)["services"][service.name]["build"])
    build["target"] = {"build": "production", "build-test": "test"}.get(purpose, "application")
    return build


def inputs(
    catalog: Catalog,
    service: Service,
    purpose: str,
    *,
    extra: Sequence[str] = (),
    root: Path | None = None,
    image_id: ImageId | None = None,
) -> dict[str, str]:
    """Every input of the service's build or test run, by name, with its digest."""
    _check_purpose(purpose)
    root = root or ROOT
    image_id = image_id or engine_image_id
    entries: dict[str, str] = {}
    libs = root / "libs"
    for directory in (
        root / "services" / service.name,
        libs / "servicekit",
        libs / "servicekit-testing",
    ):
        for path in source_files(directory):
            kind = "lock" if path.name in LOCK_FILES else "file"
            entries[f"{kind}:{path.relative_to(root).as_posix()}"] = sha256_file(path)
    manifest = _manifest(root)
    if manifest is None:
        entries["wheelhouse"] = "absent"
    else:
        keys = [service.name] + (
            [f"{service.name}:dev"] if purpose in ("tests", "build-test") else []
        )
        wheels = manifest.get("wheels", {})
        for key in keys:
            listed = manifest.get("services", {}).get(key)
            if listed is None:
                entries[f"wheelhouse:{key}"] = "not filled"
                continue
            for filename in listed:
                entries[f"wheel:{filename}"] = wheels.get(filename, {}).get("sha256", MISSING)
    tags = list(BASE_IMAGES)
    if purpose == "tests":
        dependencies, infrastructure = catalog.needs(service)
        tags += [INFRA_TAGS[name] for name in infrastructure if name in INFRA_TAGS]
        tags += [image(dep.name) for dep in dependencies]
    for tag in tags:
        entries[f"image:{tag}"] = image_id(tag) or MISSING
    entries["compose"] = _sha256_json(_compose_definition(catalog, service, purpose))
    if extra:
        entries["args"] = _sha256_json(list(extra))
    return entries


def digest_of(entries: dict[str, str]) -> str:
    text = "\n".join(f"{key}\0{value}" for key, value in sorted(entries.items()))
    return hashlib.sha256(text.encode()).hexdigest()


def fingerprint(
    catalog: Catalog,
    service: Service,
    purpose: str,
    *,
    extra: Sequence[str] = (),
    root: Path | None = None,
    image_id: ImageId | None = None,
) -> str:
    """The sha256 of everything the service's build or test run depends on."""
    return digest_of(inputs(catalog, service, purpose, extra=extra, root=root, image_id=image_id))


def state_path(service: Service | str, purpose: str, state_dir: Path | None = None) -> Path:
    _check_purpose(purpose)
    name = service if isinstance(service, str) else service.name
    return (state_dir or STATE_DIR) / f"{purpose}-{name}.json"


def load_state(service: Service | str, purpose: str, state_dir: Path | None = None) -> dict | None:
    path = state_path(service, purpose, state_dir)
    try:
        state = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return state if isinstance(state, dict) and "digest" in state else None


def _label(key: str) -> str:
    kind, _, name = key.partition(":")
    return {
        "file": name,
        "lock": f"{name} (lock)",
        "wheel": f"wheel {name}",
        "wheelhouse": f"wheelhouse entry {name}" if name else "wheelhouse",
        "image": f"image {name}",
        "compose": "its compose definition",
        "args": "the arguments",
    }.get(kind, key)


def describe(before: dict[str, str], after: dict[str, str], limit: int = 4) -> str:
    """What differs between two sets of inputs, briefly: 'app/main.py, image X and 2 more'."""
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    if not changed:
        return "nothing"
    labels = []
    for key in changed:
        suffix = " (new)" if key not in before else " (removed)" if key not in after else ""
        labels.append(_label(key) + suffix)
    shown = ", ".join(labels[:limit])
    return shown + (f" and {len(labels) - limit} more" if len(labels) > limit else "")


@dataclass
class Decision:
    """Whether to skip a service's build or test run, why, and what to record on success."""

    service: str
    purpose: str
    skip: bool
    reason: str
    digest: str
    entries: dict[str, str] = field(repr=False)
    extra: tuple[str, ...] = ()


def decide(
    catalog: Catalog,
    service: Service,
    purpose: str,
    *,
    force: bool = False,
    extra: Sequence[str] = (),
    root: Path | None = None,
    state_dir: Path | None = None,
    image_id: ImageId | None = None,
) -> Decision:
    """Skip when the inputs match the last success's record (and, for a build, the image it
    made is still the one under its tag); otherwise say what changed."""
    image_id = image_id or engine_image_id
    entries = inputs(catalog, service, purpose, extra=extra, root=root, image_id=image_id)
    digest = digest_of(entries)

    def outcome(skip: bool, reason: str) -> Decision:
        return Decision(service.name, purpose, skip, reason, digest, entries, tuple(extra))

    if force or forced_by_environment():
        return outcome(False, "forced")
    state = load_state(service, purpose, state_dir)
    what = "green run" if purpose == "tests" else "build"
    if state is None:
        return outcome(False, f"no record of a previous {what}")
    when = state.get("recorded_at", "?")
    if state["digest"] != digest:
        changed = describe(state.get("inputs", {}), entries)
        return outcome(False, f"changed since the {what} of {when}: {changed}")
    tag = image_tag(service, purpose)
    if tag is not None:
        current = image_id(tag)
        if current is None:
            return outcome(False, f"unchanged, but {tag} is missing")
        if current != state.get("image"):
            return outcome(False, f"unchanged, but {tag} is not the image that build made")
    return outcome(
        True,
        f"unchanged since the {what} of {when} (fingerprint {digest[:12]}); "
        f"{FORCE_FLAG} or {FORCE_ENV}=1 to run it anyway",
    )


def unchanged(catalog: Catalog, service: Service, purpose: str, **options) -> bool:
    """True when the service's build or test run can be skipped (see `decide`)."""
    return decide(catalog, service, purpose, **options).skip


def record(
    catalog: Catalog,
    service: Service,
    purpose: str,
    decision: Decision | None = None,
    *,
    extra: Sequence[str] = (),
    root: Path | None = None,
    state_dir: Path | None = None,
    image_id: ImageId | None = None,
) -> Path:
    """Record a success. Pass the `Decision` taken *before* the run: a file edited while the
    run was going on then still counts as changed next time. An image that was missing then
    (the run itself made it) is recorded with the id it has now."""
    image_id = image_id or engine_image_id
    if decision is None:
        entries = inputs(catalog, service, purpose, extra=extra, root=root, image_id=image_id)
    else:
        entries = dict(decision.entries)
        for key, value in entries.items():
            if key.startswith("image:") and value == MISSING:
                entries[key] = image_id(key.removeprefix("image:")) or MISSING
    tag = image_tag(service, purpose)
    state = {
        "service": service.name,
        "purpose": purpose,
        "digest": digest_of(entries),
        "recorded_at": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "image": image_id(tag) if tag else None,
        "inputs": entries,
    }
    path = state_path(service, purpose, state_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(state, indent=1, sort_keys=True) + "\n")
    tmp.replace(path)  # never a half-written record
    return path


def forget(service: Service | str, purpose: str, state_dir: Path | None = None) -> bool:
    """Drop a record (the next run is then never skipped); True when there was one."""
    path = state_path(service, purpose, state_dir)
    existed = path.exists()
    path.unlink(missing_ok=True)
    return existed


def forget_all(state_dir: Path | None = None) -> int:
    """Drop every record (`inv clean`): nothing is skipped until it ran again; how many."""
    records = list((state_dir or STATE_DIR).glob("*.json"))
    for path in records:
        path.unlink(missing_ok=True)
    return len(records)


def forced_by_environment(environ: Mapping[str, str] | None = None) -> bool:
    """TIERED_FORCE=1 (or true/yes): never skip."""
    environ = os.environ if environ is None else environ
    return environ.get(FORCE_ENV, "").lower() in ("1", "true", "yes")


def split_force(
    args: Iterable[str], environ: Mapping[str, str] | None = None
) -> tuple[bool, list[str]]:
    """Take `--force` out of a session's arguments (the rest go to pytest); TIERED_FORCE=1 in
    the environment forces too."""
    given = list(args)
    rest = [arg for arg in given if arg != FORCE_FLAG]
    return len(rest) != len(given) or forced_by_environment(environ), rest
