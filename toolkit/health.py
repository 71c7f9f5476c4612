"""Waiting for a stack to become healthy, and asking every service how it is."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from toolkit import stack
from toolkit.catalog import Catalog
from toolkit.errors import ToolkitError


@dataclass
class ServiceState:
    name: str
    state: str
    health: str
    seconds: float | None
    url: str
    restarts: int = 0  # by the engine's restart policy, after the process died


def _project_containers() -> dict[str, object]:
    # sparse (stack.project_containers): callers reload what they look at.
    return stack.project_containers()


def _status(container) -> tuple[str, str]:
    state = container.attrs["State"]
    return state.get("Status", "?"), (state.get("Health") or {}).get("Status", "none")


def _needs(catalog: Catalog, name: str) -> list[str]:
    if name not in catalog.services:
        return []
    service = catalog.service(name)
    return [*service.infrastructure, *service.depends_on, *service.uses]


def wait_healthy(
    catalog: Catalog,
    names: list[str],
    started: float,
    timeout: float = 300,
    on_change=None,
    failed=lambda: None,
    settled=lambda: True,
) -> list[ServiceState]:
    """Poll until every named container is healthy; fail fast, naming the service, when one
    exits or turns unhealthy, or when the timeout passes.

    While compose is still at work (`settled()` is false) a stopped container may be one that
    compose is about to start or replace, so it is not yet a failure; and a container that
    compose replaces loses the healthy time its predecessor had.
    """
    healthy_at: dict[str, tuple[float, str]] = {}
    deadline = started + timeout
    last: dict[str, tuple[str, str]] = {}
    restarted: dict[str, int] = {}
    while True:
        if (error := failed()) is not None:
            raise error
        compose_done = settled()
        containers = _project_containers()
        for name in names:
            container = containers.get(name)
            if container is None:
                last[name] = ("missing", "none")
                healthy_at.pop(name, None)
                continue
            try:
                container.reload()
            except stack.sdk.NotFound:  # replaced by compose between listing and now
                continue
            status = _status(container)
            restarted[name] = int(container.attrs.get("RestartCount", 0))
            if status != last.get(name) and on_change:
                on_change(name, *status)
            last[name] = status
            if name in healthy_at and healthy_at[name][1] != container.id:
                del healthy_at[name]
            if status[1] == "healthy" or (status == ("running", "none")):
                healthy_at.setdefault(name, (time.perf_counter() - started, container.id))
            elif not compose_done:
                continue
            elif status[0] in ("exited", "dead", "created"):
                code = container.attrs["State"].get("ExitCode")
                raise NeverHealthy(name, f"exited with code {code} before becoming healthy")
            elif status[1] == "unhealthy":
                # A service whose dependency is being replaced reports itself unhealthy until
                # that dependency is back: that is waiting, not failing.
                waiting_on = [
                    d for d in _needs(catalog, name) if d in names and d not in healthy_at
                ]
                if waiting_on:
                    continue
                raise NeverHealthy(name, "is unhealthy")
        if compose_done and len(healthy_at) == len(names):
            break
        if time.perf_counter() > deadline:
            waiting = [n for n in names if n not in healthy_at]
            raise NeverHealthy(waiting[0], f"not healthy after {timeout:.0f}s", waiting)
        time.sleep(0.25)
    return [
        ServiceState(
            n, last[n][0], last[n][1], healthy_at[n][0], url_of(catalog, n), restarted.get(n, 0)
        )
        for n in names
    ]


class _Background(threading.Thread):
    def __init__(self, start: Callable[[], None]) -> None:
        super().__init__(daemon=True)
        self.start_stack = start
        self.error: ToolkitError | None = None

    def run(self) -> None:
        try:
            self.start_stack()
        except ToolkitError as exc:
            self.error = exc


def start_and_wait(
    catalog: Catalog,
    names: list[str],
    start: Callable[[], None],
    timeout: float = 300,
    on_change=None,
) -> list[ServiceState]:
    """Run `start` (compose up) in the background and poll alongside it until every named
    container is healthy. Compose itself waits for `service_healthy` dependencies, so polling
    alongside is what gives each service its own seconds to healthy (since `start` began)."""
    started = time.perf_counter()
    starting = _Background(start)
    starting.start()
    try:
        return wait_healthy(
            catalog,
            names,
            started,
            timeout=timeout,
            on_change=on_change,
            failed=lambda: starting.error,
            settled=lambda: not starting.is_alive(),
        )
    finally:
        starting.join(timeout=timeout)


def url_of(catalog: Catalog, name: str) -> str:
    """Where a container is reached from the host, as the tables show it."""
    service = catalog.services.get(name)
    if service is None:
        return "(infrastructure, internal)"
    if not service.publish:
        return "(internal)"
    return f"http://127.0.0.1:{service.port}"


class NeverHealthy(ToolkitError):
    def __init__(self, service: str, why: str, waiting: list[str] | None = None) -> None:
        others = (
            f" (also waiting: {', '.join(waiting[1:])})" if waiting and len(waiting) > 1 else ""
        )
        super().__init__(
            f"{service} {why}{others}", f"see its last log lines below; `inv logs {service}`"
        )
        self.service = service


def restarts(container) -> int:
    """How often the engine restarted a container after its process died (restart policy)."""
    container.reload()
    return int(container.attrs.get("RestartCount", 0))


def probe_all(catalog: Catalog) -> list[tuple[str, str, str, str, str]]:
    """Ask each running service's own /health now (inside its container, so internal services
    answer too): name, overall status, per-backend summary, restarts, URL."""
    containers = _project_containers()
    targets = [n for n in catalog.services if n in containers]

    def ask(name: str) -> tuple[str, str, str, str, str]:
        container = containers[name]
        count = restarts(container)
        restarted = f"{count} (restarted)" if count else "0"
        if container.status != "running":
            return name, container.status, "", restarted, url_of(catalog, name)
        code, output = container.exec_run(["python3", "-m", "servicekit.healthcheck"])
        text = output.decode(errors="replace").strip()
        try:
            report = json.loads(text)
        except json.JSONDecodeError:
            return name, "down", text[:80], restarted, url_of(catalog, name)
        checks = ", ".join(f"{k}={v.get('status')}" for k, v in report.get("checks", {}).items())
        status = report.get("status", "down" if code else "ok")
        return name, status, checks, restarted, url_of(catalog, name)

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(ask, targets))
