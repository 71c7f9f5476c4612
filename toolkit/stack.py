"""The running stack: compose (through python-on-whales) for build, up, down, ps and logs."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path

from python_on_whales import DockerClient
from python_on_whales.exceptions import DockerException, NoSuchContainer

from toolkit import envfile
from toolkit.catalog import ROOT, Catalog, Service
from toolkit.errors import ToolkitError
from toolkit.render import COMPOSE_FILE, COMPOSE_TEST_FILE, PROJECT

BUILD_LOG_DIR = ROOT / ".cache" / "build-logs"


def compose(profiles: list[str] | None = None, tests: bool = False) -> DockerClient:
    """A compose client for this project, with its env file and the given profiles active."""
    path, _ = envfile.ensure()
    files: list[Path] = [COMPOSE_FILE] + ([COMPOSE_TEST_FILE] if tests else [])
    return DockerClient(
        compose_files=files,
        compose_env_files=[path],
        compose_profiles=profiles or [],
        compose_project_name=PROJECT,
    )


def compose_argv(*extra_files: Path, profiles: tuple[str, ...] = ("full", "test")) -> list[str]:
    """`docker compose ...` for this project, for callers that need the CLI itself (streamed
    test output, build overrides); everything else goes through `compose()`."""
    path, _ = envfile.ensure()
    argv = ["docker", "compose", "--project-name", PROJECT, "--env-file", str(path)]
    for file in (COMPOSE_FILE, *extra_files):
        argv += ["-f", str(file)]
    for profile in profiles:
        argv += ["--profile", profile]
    return argv


def _explain(exc: DockerException, doing: str) -> ToolkitError:
    output = (exc.stderr or exc.stdout or "").strip().splitlines()
    tail = "\n".join(output[-15:])
    return ToolkitError(
        f"{doing} failed (exit {exc.return_code}):\n{tail}",
        "read the lines above; `inv doctor` checks the engine",
    )


def build(
    services: list[Service],
    target: str = "production",
    cache: bool = True,
    on_line: Callable[[str], None] | None = None,
) -> dict[str, float]:
    """Build each service's image through compose (BuildKit via the engine); per-service seconds.

    Each build's full output goes to .cache/build-logs/<service>-<target>.log.
    """
    client = compose(["full"], tests=target == "test")
    BUILD_LOG_DIR.mkdir(parents=True, exist_ok=True)
    timings = {}
    for service in services:
        name = service.name if target != "test" else f"{service.name}-tests"
        log_path = BUILD_LOG_DIR / f"{service.name}-{target}.log"
        started = time.perf_counter()
        with log_path.open("w") as log:
            try:
                for _, line in client.compose.build([name], cache=cache, stream_logs=True):
                    text = line.decode(errors="replace").rstrip()
                    log.write(text + "\n")
                    if on_line:
                        on_line(text)
            except DockerException as exc:
                tail = "\n".join(log_path.read_text().splitlines()[-20:])
                raise ToolkitError(
                    f"building {service.name} ({target}) failed (exit {exc.return_code}):\n{tail}",
                    f"full log: {log_path.relative_to(ROOT)}",
                ) from None
        timings[service.name] = time.perf_counter() - started
    return timings


def image_present(service: Service, tag: str = "latest") -> bool:
    client = compose()
    return client.image.exists(f"{PROJECT}/{service.name}:{tag}")


def port_conflicts(catalog: Catalog, services: list[Service]) -> list[str]:
    """Published ports held by something other than this project's own containers."""
    ours = {
        (c.config.labels or {}).get("com.docker.compose.service") for c in compose().compose.ps()
    }
    problems = []
    for service in services:
        if not service.publish or service.name in ours:
            continue
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", service.port))
            except OSError:
                problems.append(
                    f"port {service.port} ({service.name}) is already taken on 127.0.0.1"
                )
    return problems


def up(profile: str, services: list[Service]) -> None:
    try:
        compose([profile]).compose.up(detach=True, quiet=True, no_build=True)
    except DockerException as exc:
        raise _explain(exc, f"starting profile {profile}") from None


def down(profile: str | None, services: list[str] | None, volumes: bool) -> None:
    client = compose([profile] if profile else ["full", "test"], tests=True)
    try:
        if services:
            client.compose.rm(services, stop=True, volumes=volumes)
        else:
            client.compose.down(volumes=volumes, remove_orphans=True, quiet=True)
    except DockerException as exc:
        raise _explain(exc, "stopping the stack") from None


def containers(profile: str = "full") -> dict[str, object]:
    """This project's containers by compose service name (running or not)."""
    result = {}
    for container in compose([profile, "test"], tests=True).compose.ps(all=True):
        try:
            labels = container.config.labels or {}
        except NoSuchContainer:  # removed meanwhile (a finished `compose run --rm`)
            continue
        result[labels.get("com.docker.compose.service", container.name)] = container
    return result


def logs(service: str, tail: int = 50) -> str:
    try:
        return compose(["full", "test"], tests=True).compose.logs(
            [service], tail=str(tail), no_log_prefix=True
        )
    except DockerException as exc:
        raise _explain(exc, f"reading logs of {service}") from None


def clickhouse_scalar(query: str) -> str:
    """One value, as text, from the stack's ClickHouse itself (through clickhouse-client in its
    container, with the credentials compose gave it): for checks that must not trust a
    service's own answer, such as how many ticks are really stored."""
    try:
        out = compose(["core"]).compose.execute(
            "clickhouse",
            [
                "sh",
                "-c",
                'clickhouse-client --user "$CLICKHOUSE_USER" --password "$CLICKHOUSE_PASSWORD" '
                '--database "$CLICKHOUSE_DB" --query "$0"',
                query,
            ],
            tty=False,
        )
    except DockerException as exc:
        raise _explain(exc, "querying ClickHouse") from None
    return str(out).strip()


# Redis keys of user-service's per-address windows (login failures, registrations).
CLIENT_WINDOWS = ("login:attempts:*", "register:attempts:*")
_FORGET = "for _, k in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('DEL', k) end"


def forget_client_windows() -> None:
    """Forget user-service's per-address windows, and nothing else.

    Every request of the toolkit's suites and benchmarks reaches the gateway from one address
    (Docker's port forwarding), so the users one run registers would count against the next
    run's: the e2e suite, the security suite and chaos start from a clean slate this way."""
    for pattern in CLIENT_WINDOWS:
        try:
            compose(["core"]).compose.execute(
                "redis",
                [
                    "sh",
                    "-c",
                    'redis-cli --no-auth-warning -a "$REDIS_PASSWORD" EVAL "$0" 0 "$1"',
                    _FORGET,
                    pattern,
                ],
                tty=False,
            )
        except DockerException as exc:
            raise _explain(exc, "resetting the login and registration windows") from None
