"""The running stack through compose: python-on-whales for build, up, down, ps, logs and exec;
`cli()` for what needs the command line itself (toolkit.stack.command)."""

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
from toolkit.names import (
    BUILD_LOG_DIR,
    COMPOSE_FILE,
    COMPOSE_TEST_FILE,
    PROJECT,
    Stage,
    build_log,
    test_container,
)
from toolkit.names import image as image_name
from toolkit.stack.command import Compose, DockerCommandError


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


def cli(
    *extra_files: Path,
    profiles: tuple[str, ...] = ("full", "test"),
    environment: dict[str, str] | None = None,
) -> Compose:
    """This project's compose command line (compose.yaml and `extra_files` layered over it),
    for callers that need the CLI itself; everything else goes through `compose()`."""
    path, _ = envfile.ensure()
    return Compose(path, (COMPOSE_FILE, *extra_files), profiles, environment=environment)


def _explain(exc: DockerException, doing: str) -> DockerCommandError:
    """python-on-whales' failure as every other docker command's (toolkit.stack.command)."""
    return DockerCommandError(
        doing, exc.docker_command, exc.return_code, exc.stderr or exc.stdout or ""
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
        stage = Stage.of(target)
        name = service.name if stage is not Stage.TEST else test_container(service.name)
        log_path = BUILD_LOG_DIR / build_log(service.name, stage)
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


def image_present(service: Service, stage: Stage = Stage.PRODUCTION) -> bool:
    return compose().image.exists(image_name(service.name, stage))


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
    """Start `services` (compose starts what they depend on first) with `profile` active."""
    try:
        compose([profile]).compose.up(
            [s.name for s in services], detach=True, quiet=True, no_build=True
        )
    except DockerException as exc:
        raise _explain(exc, f"starting profile {profile}") from None


def restart(names: list[str]) -> None:
    """Restart these containers (same definition, a new process each)."""
    try:
        compose(["full", "test"], tests=True).compose.restart(names)
    except DockerException as exc:
        raise _explain(exc, f"restarting {', '.join(names)}") from None


def follow_logs(names: list[str], tail: int) -> int:
    """`compose logs --follow` on this terminal, each line prefixed by its service, until
    Ctrl-C; its exit code."""
    return cli().stream("logs", "--follow", "--tail", str(tail), *names)


def exec_in(service: str, command: list[str], tty: bool) -> int:
    """Run a command in a service's running container on this terminal; its exit code."""
    return cli().stream("exec", *([] if tty else ["-T"]), service, *command)


def remove_images(tags: list[str]) -> list[str]:
    """Remove these local images (those present); the tags removed."""
    client = compose()
    present = [tag for tag in tags if client.image.exists(tag)]
    if present:
        try:
            client.image.remove(present, force=True)
        except DockerException as exc:
            raise _explain(exc, "removing the stack's images") from None
    return present


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


def logs(service: str | list[str], tail: int = 50) -> str:
    """The last `tail` lines of one service's log (no prefix), or of several (each line
    prefixed with its service, as compose writes them)."""
    names = [service] if isinstance(service, str) else list(service)
    try:
        return compose(["full", "test"], tests=True).compose.logs(
            names, tail=str(tail), no_log_prefix=isinstance(service, str)
        )
    except DockerException as exc:
        raise _explain(exc, f"reading logs of {', '.join(names) or 'the stack'}") from None


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
