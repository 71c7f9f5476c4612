"""Start-to-healthy benchmark: how long a profile takes from `compose up` until every container
is healthy, as `inv up` waits for it.

Per round the profile's containers are removed (volumes kept) and `compose up` is timed until
each container is healthy. `services[s]` is the time from `compose up` (so it includes waiting
for dependencies), `own[s]` the time from the container's own start; Docker probes health every
toolkit.probes.INTERVAL_S (5 s), so both move in steps of about that. `ensure_up` is the same
start without the removal: a profile left as it is when it already runs, for the benchmarks
that need it running.
"""

from __future__ import annotations

import collections
import datetime as dt
import time
from collections.abc import Iterable

import docker.errors

from toolkit import builds, health, stack
from toolkit.bench import results
from toolkit.catalog import Catalog, Service
from toolkit.console import console, step, table
from toolkit.errors import ToolkitError
from toolkit.names import PROJECT

# The targets for a whole profile, once images exist (reported next to the figures).
PROFILE_TARGET_SECONDS = {"core": 20.0, "full": 60.0}
# Docker's StartedAt and our clock may differ by this much on the same host.
CLOCK_TOLERANCE = 0.5


# ---- start-to-healthy ------------------------------------------------------------------------


def profile_for(catalog: Catalog, services: Iterable[Service]) -> str:
    """The smallest profile that runs every one of `services`."""
    top = max(s.tier for s in services)
    for name, max_tier in sorted(catalog.profiles.items(), key=lambda item: item[1]):
        if max_tier >= top:
            return name
    raise ToolkitError(f"no profile runs tier {top}", "add one to catalog.yaml")


def infrastructure_of(catalog: Catalog, profile: str) -> list[str]:
    return catalog.profile_infrastructure(profile)


def _epoch(docker_time: str) -> float | None:
    """Seconds since the epoch of a Docker timestamp (nanoseconds, "Z"); None if never set."""
    if not docker_time or docker_time.startswith("0001-"):
        return None
    return dt.datetime.fromisoformat(docker_time.replace("Z", "+00:00")).timestamp()


def service_containers(names: list[str], running: bool = False) -> dict[str, object]:
    """This project's containers of the named compose services, inspected.

    Listed sparsely and inspected one by one: other containers of the project (`compose run
    --rm` test containers of a colleague) may vanish between the list and an inspection.
    """
    filters = {"label": f"com.docker.compose.project={PROJECT}"}
    if running:
        filters["status"] = "running"
    found = stack.client().containers.list(all=not running, sparse=True, filters=filters)
    wanted = {}
    for container in found:
        service = (container.attrs.get("Labels") or {}).get("com.docker.compose.service")
        if service in names:
            try:
                container.reload()
            except docker.errors.NotFound:
                continue
            wanted[service] = container
    return wanted


def _started_at(names: list[str]) -> dict[str, float | None]:
    containers = service_containers(names)
    return {
        name: _epoch(containers[name].attrs["State"].get("StartedAt", ""))
        if name in containers
        else None
        for name in names
    }


class Disturbed(Exception):
    """A round that something else interfered with; it is measured again."""


def _up_and_wait(
    catalog: Catalog, profile: str, names: list[str], timeout: float
) -> list[health.ServiceState]:
    """`compose up` the profile in the background and wait until `names` are healthy; the
    states give each one's seconds to healthy since `compose up`."""
    try:
        return health.start_and_wait(
            catalog, names, lambda: stack.up(profile, catalog.profile(profile)), timeout=timeout
        )
    except health.NeverHealthy as exc:
        tail = stack.logs(exc.service, tail=20)
        raise ToolkitError(f"{exc.problem}; its last log lines:\n{tail}", exc.fix) from None


def _start_once(
    catalog: Catalog, profile: str, names: list[str], timeout: float
) -> tuple[dict[str, float], dict[str, float]]:
    """Remove the profile's containers, `compose up`, wait: seconds to healthy since `compose
    up`, and since each container's own start."""
    stack.down(profile, names, volumes=False)
    wall = time.time()
    states = _up_and_wait(catalog, profile, names, timeout)
    since_up = {s.name: float(s.seconds or 0.0) for s in states}
    own = {}
    for name, container_start in _started_at(names).items():
        if container_start is None:
            continue
        if container_start < wall - CLOCK_TOLERANCE:
            # Not started by our `compose up`: someone else started the stack meanwhile.
            raise Disturbed(f"{name} was started before this round's `compose up`")
        own[name] = wall + since_up[name] - container_start
    return since_up, own


def _start_round(
    catalog: Catalog, profile: str, names: list[str], timeout: float, attempts: int = 3
) -> tuple[dict[str, float], dict[str, float]]:
    """_start_once, again from the start when the round was disturbed: the engine lost a
    container while it was being listed (health.wait_healthy inspects every container of the
    project, and a colleague's `compose run --rm` container may be removed in between), or a
    container was started by someone else's `compose up`. Such a round is measured anew,
    never patched up."""
    for attempt in range(1, attempts + 1):
        try:
            return _start_once(catalog, profile, names, timeout)
        except (docker.errors.NotFound, Disturbed) as exc:
            why = exc.explanation if isinstance(exc, docker.errors.NotFound) else str(exc)
            if attempt == attempts:
                raise ToolkitError(
                    f"the profile's start was disturbed {attempts} times in a row ({why})",
                    "run the benchmark while nobody else starts or tests on this engine",
                ) from None
            console.print(f"[yellow]note:[/] round disturbed ({why}); measuring it again")
    raise AssertionError("unreachable")


def start_times(
    catalog: Catalog, profile: str = "core", rounds: int = 3, timeout: float = 300
) -> dict:
    """Start-to-healthy seconds per service and for the whole profile, over `rounds` rounds.

    Returns the `start` section: `services[s]`, `own[s]` and `infrastructure[i]` are
    results.summary of the rounds, `profiles[profile]` the summary of the time until the last
    container was healthy. The images must exist (`inv build --profile P`); the profile is left
    running. Refuses while a heavier profile's service runs: removing its dependencies from
    under it would break it and bias the figures.
    """
    if rounds < 1:
        raise ToolkitError(f"rounds must be at least 1, got {rounds}", "pass --rounds 1 or more")
    selected = catalog.profile(profile)
    missing = [s.name for s in selected if not stack.image_present(s)]
    if missing:
        raise ToolkitError(
            f"no image for {', '.join(missing)}: start times are measured with images built",
            f"`inv build --profile {profile}` first",
        )
    running = {name for name, c in stack.containers().items() if getattr(c.state, "running", False)}
    heavier = sorted(running & (set(catalog.services) - {s.name for s in selected}))
    if heavier:
        raise ToolkitError(
            f"{', '.join(heavier)} (a heavier profile) is running and needs this profile's "
            "services",
            "measure that profile instead, or stop it: `inv down --profile full`",
        )
    busy_tests = sorted(name for name in running if name.endswith("-tests"))
    if busy_tests:
        console.print(
            f"[yellow]note:[/] test containers are running ({', '.join(busy_tests)}); "
            "restarting their dependencies will disturb them"
        )
    infra = infrastructure_of(catalog, profile)
    names = infra + [s.name for s in selected]
    since_up: dict[str, list[float]] = collections.defaultdict(list)
    own: dict[str, list[float]] = collections.defaultdict(list)
    whole: list[float] = []
    for number in range(1, rounds + 1):
        with step(f"start profile {profile} from scratch (round {number}/{rounds})") as note:
            up_round, own_round = _start_round(catalog, profile, names, timeout)
            for name, seconds in up_round.items():
                since_up[name].append(seconds)
            for name, seconds in own_round.items():
                own[name].append(seconds)
            whole.append(max(up_round.values()))
            note["note"] = f"all {len(names)} healthy after {whole[-1]:.1f}s"
    section = {
        "services": {s.name: results.summary(since_up[s.name]) for s in selected},
        "own": {name: results.summary(values) for name, values in own.items() if values},
        "infrastructure": {i: results.summary(since_up[i]) for i in infra},
        "profiles": {profile: results.summary(whole)},
    }
    _show_start(catalog, profile, section)
    return section


def _show_start(catalog: Catalog, profile: str, section: dict) -> None:
    rows = []
    for name, figure in {**section["infrastructure"], **section["services"]}.items():
        own = section["own"].get(name)
        service = catalog.services.get(name)
        budget = service.budgets.get("start_seconds") if service else None
        rows.append(
            (
                name,
                f"{figure['median']:.1f}",
                f"{own['median']:.1f}" if own else "",
                f"{budget.target:g}" if budget and budget.target else "",
            )
        )
    whole = section["profiles"][profile]
    target = PROFILE_TARGET_SECONDS.get(profile)
    rows.append(
        (f"profile {profile}", f"{whole['median']:.1f}", "", f"{target:g}" if target else "")
    )
    console.print(
        table(
            f"start to healthy, median of {len(whole['rounds'])} round(s), seconds",
            ["container", "since compose up", "own", "target"],
            rows,
        )
    )


# ---- a profile running, for the benchmarks that need one -------------------------------------


def ensure_images(catalog: Catalog, services: Iterable[Service]) -> None:
    """Build the production images that are missing or out of date, as `inv up` does."""
    builds.ensure_built(catalog, services)


def ensure_up(catalog: Catalog, profile: str, timeout: float = 300) -> None:
    """The profile running and healthy from its production images (built when missing), as
    `inv up --profile P` leaves it: compose leaves alone what already runs from the current
    image and definition, and replaces the rest (a dev-mode container, an older image)."""
    selected = catalog.profile(profile)
    ensure_images(catalog, selected)
    conflicts = stack.port_conflicts(catalog, selected)
    if conflicts:
        raise ToolkitError(
            "; ".join(conflicts),
            "stop whatever holds it, or change the port in catalog.yaml and run `inv render`",
        )
    names = infrastructure_of(catalog, profile) + [s.name for s in selected]
    with step(f"profile {profile} up and healthy") as note:
        states = _up_and_wait(catalog, profile, names, timeout)
        note["note"] = f"all {len(states)} healthy"
