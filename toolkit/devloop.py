"""The inner loop: dev mode, where a saved source file reaches the running service without a
rebuild, and the measure of how long that takes.

Dev mode layers ``compose/compose.dev.yaml`` over ``compose.yaml`` in the same compose project:
a service in dev mode *replaces* its production container (same name, network alias, ports and
environment, with ``ENVIRONMENT=development``), runs the ``application`` stage (``uvicorn
--reload``) and sees ``services/<name>/app`` and ``libs/servicekit`` through read-only bind
mounts; uvicorn's watchfiles reloader gets inotify events through the mount.
What the dev services need (other services, infrastructure) runs from the production images,
except a dependency that already runs in dev mode, which is left as it is. ``inv up --profile P``
puts production containers back (compose sees their definition changed and recreates them).

The measure never touches the checkout: it mounts a temporary copy of the service's source
(``DEV_SOURCE_ROOT``), writes a marker into the copy's ``app/__init__.py``
(``__code_version__``), and polls ``GET /health/live``, which reports that marker, until the
new one answers. Afterwards the service is put back as it was (dev from the checkout,
production, or not running) and the copy is deleted, also on Ctrl-C.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

import httpx

from toolkit import builds, fingerprint, health, images, stack
from toolkit.bench import results
from toolkit.catalog import ROOT, Catalog, Service
from toolkit.console import console, step
from toolkit.errors import ToolkitError
from toolkit.names import COMPOSE_DEV_FILE, Stage, build_log

SOURCE_ENV = "DEV_SOURCE_ROOT"
DEV_TAG = Stage.APPLICATION.tag
PROFILES = ("full",)  # every service and backend is in `full`; what starts is named explicitly
POLL_SECONDS = 0.02
ROUND_TIMEOUT = 30.0
SETTLE_SECONDS = 0.5  # between rounds: the reloader pauses 0.25 s after each restart
MARKER = "__code_version__"
SOURCE_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")


def resolve(catalog: Catalog, targets: str | Sequence[str]) -> list[Service]:
    """The services to run in dev mode: service names and/or profile names (a profile means
    all its services), comma or space separated, in catalog order."""
    if isinstance(targets, str):
        targets = targets.replace(",", " ").split()
    names: list[str] = []
    for target in targets:
        if target in catalog.profiles:
            names += [s.name for s in catalog.profile(target)]
        else:
            names.append(target)
    if not names:
        raise ToolkitError(
            "no service given for dev mode",
            f"name services ({', '.join(catalog.services)}) or a profile "
            f"({', '.join(catalog.profiles)})",
        )
    return catalog.select(names)


def plan(catalog: Catalog, dev: Sequence[Service]) -> tuple[list[Service], list[str]]:
    """What the dev services need running besides themselves: the services they depend on
    (transitively; from production images) and the infrastructure of all of them."""
    dev_names = {s.name for s in dev}
    needed: set[str] = set()
    infra: set[str] = set()
    for service in dev:
        dependencies, backends = catalog.needs(service)
        needed |= {d.name for d in dependencies}
        infra |= set(backends)
    for name in needed:  # a dependency's own backends (needs() already covers them; be sure)
        infra |= set(catalog.service(name).infrastructure)
    return (
        [s for s in catalog.services.values() if s.name in needed - dev_names],
        [i for i in catalog.infrastructure if i in infra],
    )


def compose(dev: bool = True, source_root: Path | None = None) -> stack.Compose:
    """This project's compose with the dev file layered (or without it), run in
    compose_env(source_root)."""
    extra = (COMPOSE_DEV_FILE,) if dev else ()
    return stack.cli(*extra, profiles=PROFILES, environment=compose_env(source_root))


def compose_env(source_root: Path | None = None) -> dict[str, str]:
    """The environment compose runs in: DEV_SOURCE_ROOT set when the mounts must come from
    another tree (the shell's value, if any, is kept otherwise)."""
    env = dict(os.environ)
    if source_root is not None:
        env[SOURCE_ENV] = str(Path(source_root).resolve())
    return env


def _run_compose(arguments: list[str], doing: str, dev: bool, source_root: Path | None) -> None:
    compose(dev, source_root).run(*arguments, doing=doing)


def _containers() -> dict[str, object]:
    return stack.project_containers(inspect=True)  # by compose service, each inspected


def mode_of(container) -> str | None:
    """'dev' or 'production' for a service's container (None: no container)."""
    if container is None:
        return None
    image = container.attrs.get("Config", {}).get("Image", "")
    return "dev" if image.endswith(f":{DEV_TAG}") else "production"


def running_in_dev() -> set[str]:
    return {
        name
        for name, container in _containers().items()
        if mode_of(container) == "dev" and container.status == "running"
    }


def build(
    catalog: Catalog, services: Sequence[Service], force: bool = False, cache: bool = True
) -> dict[str, float | None]:
    """Build the dev images (stage `application`, tag `:dev`); a service whose fingerprint
    matches its last dev build, with that image still present, is skipped (seconds None)."""
    stack.BUILD_LOG_DIR.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float | None] = {}
    for service in services:
        decision = fingerprint.decide(
            catalog, service, "build-application", force=force or not cache
        )
        if decision.skip:
            console.print(f"[dim]skip[/] {service.name} dev image: {decision.reason}")
            timings[service.name] = None
            continue
        log_path = stack.BUILD_LOG_DIR / build_log(service.name, Stage.APPLICATION)
        arguments = ["build", *([] if cache else ["--no-cache"]), service.name]
        with step(f"build {service.name} dev image ({decision.reason})") as note:
            started = time.perf_counter()
            with log_path.open("w") as log:
                compose().run(*arguments, doing=f"building {service.name} (application)", log=log)
            timings[service.name] = time.perf_counter() - started
            note["note"] = f"{timings[service.name]:.1f}s"
        fingerprint.record(catalog, service, "build-application", decision)
    return timings


def _start_compose(production: list[str], dev: list[str], source_root: Path | None) -> None:
    """Dependencies from production, then the dev services."""
    # --no-deps: everything needed is named, and compose still orders and waits among the
    # named services; without it, compose would also recreate a dependency that runs in
    # dev mode with its production definition.
    up = ["up", "--detach", "--no-deps", "--no-build", "--pull", "never", "--quiet-pull"]
    if production:
        _run_compose([*up, *production], "starting the dependencies", False, None)
    _run_compose([*up, *dev], "starting dev mode", True, source_root)


def start(
    catalog: Catalog,
    targets: str | Sequence[str],
    *,
    timeout: float = 300,
    source_root: Path | None = None,
    force_build: bool = False,
    on_change: Callable[[str, str, str], None] | None = None,
) -> list[health.ServiceState]:
    """Dev mode for services (or a profile's services): build their dev images (skipped when
    unchanged), start them with their dependencies and infrastructure, and wait until every
    one is healthy. Returns the states, in start order (infrastructure first)."""
    dev = resolve(catalog, targets)
    dependencies, infra = plan(catalog, dev)
    if images.missing():
        images.ensure_all()
    builds.ensure_built(catalog, dependencies)
    build(catalog, dev, force=force_build)
    conflicts = stack.port_conflicts(catalog, [*dev, *dependencies])
    if conflicts:
        raise ToolkitError(
            "; ".join(conflicts),
            "stop whatever holds it, or change the port in catalog.yaml and run `inv render`",
        )
    kept = running_in_dev() & {d.name for d in dependencies}
    if kept:
        console.print(f"left in dev mode as they are: {', '.join(sorted(kept))}")
    production = [*infra, *(d.name for d in dependencies if d.name not in kept)]
    names = [*infra, *(d.name for d in dependencies), *(s.name for s in dev)]
    label = ", ".join(s.name for s in dev)
    try:
        with step(f"start {label} in dev mode and wait until healthy") as note:
            states = health.start_and_wait(
                catalog,
                names,
                lambda: _start_compose(production, [s.name for s in dev], source_root),
                timeout=timeout,
                on_change=on_change,
            )
            note["note"] = f"all {len(names)} healthy"
    except health.NeverHealthy as exc:
        console.print(f"[red]{exc.problem}[/]; last log lines of {exc.service}:")
        console.print(stack.logs(exc.service, tail=30), markup=False)
        raise
    return states


def print_states(states: Sequence[health.ServiceState]) -> None:
    """The table `inv dev` ends with: each container's mode, health and address."""
    from toolkit.console import table

    dev = running_in_dev()
    catalog_services = {s.name for s in states if not s.url.startswith("(infrastructure")}
    console.print(
        table(
            "dev mode",
            ["service", "mode", "state", "health", "healthy after", "url"],
            [
                (
                    s.name,
                    "dev (reload)"
                    if s.name in dev
                    else "production"
                    if s.name in catalog_services
                    else "",
                    s.state,
                    s.health,
                    f"{s.seconds:.1f}s" if s.seconds is not None else "",
                    s.url,
                )
                for s in states
            ],
        )
    )


def copy_sources(service: Service, destination: Path, root: Path = ROOT) -> Path:
    """Copy what dev mode mounts (the service's app/ and servicekit) under `destination`, in
    the checkout's layout; returns the copy's `app/__init__.py`."""
    pairs = (
        (Path("services") / service.name / "app", Path("services") / service.name / "app"),
        (Path("libs/servicekit/src/servicekit"), Path("libs/servicekit/src/servicekit")),
    )
    for source, target in pairs:
        shutil.copytree(root / source, destination / target, ignore=SOURCE_IGNORE)
    return destination / "services" / service.name / "app" / "__init__.py"


def with_marker(original: str, token: str) -> str:
    """A module's text with the code-version marker set to `token` (appended last)."""
    text = original if not original or original.endswith("\n") else original + "\n"
    return f"{text}{MARKER} = {token!r}\n"


def wait_for_code(
    url: str,
    token: str,
    since: float,
    timeout: float = ROUND_TIMEOUT,
    poll: float = POLL_SECONDS,
) -> float:
    """Poll `url` (a /health/live) every `poll` seconds until it reports `token` as its code;
    seconds from `since` (a perf_counter) to that answer."""
    deadline = since + timeout
    last = "no answer yet"
    # A fresh connection per request (no keep-alive), and no proxy from the environment.
    limits = httpx.Limits(max_keepalive_connections=0)
    with httpx.Client(timeout=2.0, limits=limits, trust_env=False) as client:
        while True:
            attempt = time.perf_counter()
            try:
                response = client.get(url)
                if response.status_code == 200 and response.json().get("code") == token:
                    return time.perf_counter() - since
                last = f"{response.status_code} {response.text[:120]}"
            except (httpx.HTTPError, ValueError) as exc:
                last = f"{type(exc).__name__}: {exc}"
            now = time.perf_counter()
            if now > deadline:
                raise ToolkitError(
                    f"{url} did not report code {token!r} within {timeout:.0f}s (last: {last})",
                    "is uvicorn reloading? `inv logs SERVICE`",
                )
            time.sleep(max(0.0, attempt + poll - now))


def reload_rounds(
    url: str,
    module: Path,
    rounds: int,
    *,
    original: str | None = None,
    timeout: float = ROUND_TIMEOUT,
    poll: float = POLL_SECONDS,
    settle: float | None = None,
    on_round: Callable[[int, float], None] | None = None,
) -> list[float]:
    """Save `module` with a new marker `rounds` times; each time, the seconds from the write to
    the first /health/live answer that reports it."""
    original = module.read_text() if original is None else original
    settle = SETTLE_SECONDS if settle is None else settle
    nonce = uuid.uuid4().hex[:8]
    samples = []
    for number in range(1, rounds + 1):
        time.sleep(settle)
        token = f"devloop-{nonce}-{number}"
        text = with_marker(original, token)
        written = time.perf_counter()
        module.write_text(text)
        samples.append(wait_for_code(url, token, written, timeout=timeout, poll=poll))
        if on_round:
            on_round(number, samples[-1])
    return samples


def live_url(catalog: Catalog, service: Service, container=None) -> str:
    """Where the host reaches a service's /health/live (stack.service_url)."""
    if not service.publish:
        container = container or _containers().get(service.name)
        if container is None:
            raise ToolkitError(f"{service.name} has no container", f"`inv dev {service.name}`")
    return f"{stack.service_url(service, container)}/health/live"


def _mounted_from(container, target: str) -> str | None:
    for mount in container.attrs.get("Mounts", []):
        if mount.get("Destination") == target:
            return mount.get("Source")
    return None


def restore(catalog: Catalog, service: Service, previous: str | None) -> None:
    """Put a service back as it was before the measure: dev mode from the checkout (or the
    shell's DEV_SOURCE_ROOT), its production container, or no container."""
    up = ["up", "--detach", "--no-deps", "--no-build", "--pull", "never", "--quiet-pull"]
    if previous is None:
        _run_compose(
            ["rm", "--stop", "--force", service.name], "removing the dev container", True, None
        )
        return
    _run_compose([*up, service.name], f"restoring {service.name}", previous == "dev", None)
    health.wait_healthy(catalog, [service.name], time.perf_counter(), timeout=120)


def measure_reload(
    catalog: Catalog,
    service: Service | str,
    rounds: int = 5,
    *,
    timeout: float = ROUND_TIMEOUT,
    poll: float = POLL_SECONDS,
    on_round: Callable[[int, float], None] | None = None,
) -> dict:
    """Save-to-new-code-answering in dev mode, `rounds` times: `results.summary` of the
    seconds (the benchmark's `devloop[service]`). The checkout is never modified: a temporary
    copy of the source is mounted and edited, and removed afterwards."""
    service = catalog.service(service) if isinstance(service, str) else service
    if rounds < 1:
        raise ToolkitError("rounds must be at least 1", "e.g. --rounds 5")
    previous = mode_of(_containers().get(service.name))
    copy = Path(tempfile.mkdtemp(prefix=f"tiered-devloop-{service.name}-"))
    touched = False
    try:
        module = copy_sources(service, copy)
        original = module.read_text()
        first = f"devloop-start-{uuid.uuid4().hex[:8]}"
        module.write_text(with_marker(original, first))
        touched = True
        start(catalog, [service.name], source_root=copy)
        container = _containers().get(service.name)
        mounted = _mounted_from(container, "/app/app")
        if mounted is None or not Path(mounted).resolve().is_relative_to(copy.resolve()):
            raise ToolkitError(
                f"{service.name} mounts {mounted}, not the temporary copy",
                "is the container from another compose project? `inv ps`",
            )
        url = live_url(catalog, service, container)
        wait_for_code(url, first, time.perf_counter(), timeout=60, poll=poll)
        samples = reload_rounds(
            url, module, rounds, original=original, timeout=timeout, poll=poll, on_round=on_round
        )
        return results.summary(samples)
    finally:
        try:
            if touched:
                with step(f"put {service.name} back ({previous or 'not running'})"):
                    restore(catalog, service, previous)
        finally:
            shutil.rmtree(copy, ignore_errors=True)
