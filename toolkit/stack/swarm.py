"""The stack on Docker Swarm: a one-node swarm made when there is none (and left again only
if the toolkit made it), secrets from the env file, images tagged per build, `docker stack
deploy` of a profile's stack file (toolkit.swarmfile), and the wait until every service has
its replicas running healthy, or has rolled back.

Leaving a swarm on engine 20.10 wipes the DNS records of compose containers running beside it
(ENVIRONMENT.md): after `swarm leave`, every running container of the compose project is
restarted, which registers its name again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from toolkit import envfile, swarmfile
from toolkit.catalog import ROOT, Catalog
from toolkit.errors import ToolkitError
from toolkit.images import REGISTRY, ensure_all
from toolkit.names import PROJECT, image
from toolkit.stack.command import run
from toolkit.stack.compose import containers, restart
from toolkit.stack.sdk import APIError, NotFound, client

STATE = ROOT / ".cache" / "state" / "swarm.json"
LABEL = "com.docker.stack.namespace"
IPVS = Path("/proc/net/ip_vs")


@dataclass
class ServiceStatus:
    name: str  # the catalog's name (without the stack prefix)
    wanted: int
    running: int
    update: str  # Swarm's UpdateStatus state ("" when never updated)
    message: str
    image: str
    update_started: str = ""  # when that update began: tells a new one from an old one


class RolledBack(ToolkitError):
    def __init__(self, service: str, message: str) -> None:
        super().__init__(
            f"{service}: the update failed and Swarm rolled it back ({message})",
            f"the previous version runs again; `docker service ps {PROJECT}_{service} "
            "--no-trunc` shows why the new tasks failed",
        )
        self.service = service


def node_state() -> str:
    """This engine's swarm state: inactive, active, pending, error, locked."""
    return client().info().get("Swarm", {}).get("LocalNodeState", "inactive")


def ensure_swarm(say: Callable[[str], None]) -> bool:
    """Make this engine a one-node swarm when it is none; True when the toolkit made it."""
    state = node_state()
    if state == "active":
        return False
    if state != "inactive":
        raise ToolkitError(f"this engine's swarm is {state}", "`docker info` says why")
    say("no swarm on this engine: making a one-node swarm (`docker swarm init`)")
    run(["docker", "swarm", "init", "--advertise-addr", "127.0.0.1"], doing="docker swarm init")
    STATE.parent.mkdir(parents=True, exist_ok=True)
    STATE.write_text(json.dumps({"created_by_toolkit": True}))
    return True


def modes(catalog: Catalog) -> dict[str, str]:
    """What works on this kernel: Swarm's VIPs and routing mesh need IPVS; without it, DNS
    round robin and host-mode publishing (which binds every interface of the node, and gives
    a published port to one task per node: a published service runs one replica per node)."""
    if IPVS.exists():
        return {"SWARM_ENDPOINT_MODE": "vip", "SWARM_PUBLISH_MODE": "ingress"}
    nodes = len(client().nodes.list()) if node_state() == "active" else 1
    capped = {
        swarmfile.variable("replicas", s.name): str(min(nodes, int(s.extra.get("replicas", 1))))
        for s in catalog.services.values()
        if s.publish
    }
    return {"SWARM_ENDPOINT_MODE": "dnsrr", "SWARM_PUBLISH_MODE": "host", **capped}


def ensure_secrets(catalog: Catalog, profile: str, values: dict[str, str]) -> dict[str, str]:
    """A Swarm secret per service and secret variable, named by a hash of its content (Swarm
    secrets never change: a new value is a new secret); the variables naming them."""
    existing = {s.name for s in client().secrets.list()}
    names = {}
    for service in catalog.profile(profile):
        for key, template in swarmfile.service_secrets(catalog, service.name).items():
            content = envfile.interpolate(template, values)
            digest = hashlib.sha256(content.encode()).hexdigest()[:12]
            name = f"{PROJECT}-{service.name}-{key.lower().replace('_', '-')}-{digest}"
            if name not in existing:
                client().secrets.create(name=name, data=content.encode(), labels={PROJECT: "1"})
                existing.add(name)
            names[swarmfile.variable("secret", service.name, key)] = name
    return names


REGISTRY_CONTAINER = f"{PROJECT}-registry"
REGISTRY_PORT = 5000


def ensure_registry(say: Callable[[str], None]) -> str:
    """A registry on this host for swarms that have none (Debian's docker-registry, built
    like the infrastructure images): its address. The engine pushes to 127.0.0.1 without TLS;
    other nodes need it as an insecure registry or behind TLS (README, "Several machines")."""
    address = f"127.0.0.1:{REGISTRY_PORT}"
    with contextlib.suppress(NotFound):
        running = client().containers.get(REGISTRY_CONTAINER)
        if running.status != "running":
            running.start()
        return address
    ensure_all([REGISTRY.name])
    say(f"starting a local registry at {address} ({REGISTRY.tag})")
    client().containers.run(
        REGISTRY.tag,
        name=REGISTRY_CONTAINER,
        detach=True,
        restart_policy={"Name": "unless-stopped"},
        ports={f"{REGISTRY_PORT}/tcp": ("127.0.0.1", REGISTRY_PORT)},
        volumes={f"{PROJECT}-registry-data": {"bind": "/var/lib/docker-registry", "mode": "rw"}},
        cap_drop=["ALL"],
        security_opt=["no-new-privileges:true"],
        labels={PROJECT: "registry"},
    )
    for _ in range(30):
        try:
            if httpx.get(f"http://{address}/v2/", timeout=2).status_code == 200:
                return address
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise ToolkitError(
        f"the local registry at {address} does not answer", f"`docker logs {REGISTRY_CONTAINER}`"
    )


def stop_registry(say: Callable[[str], None]) -> None:
    """Remove the local registry's container (its images stay in its volume)."""
    with contextlib.suppress(NotFound):
        client().containers.get(REGISTRY_CONTAINER).remove(force=True)
        say(f"removed the local registry ({REGISTRY_CONTAINER}; its volume stays)")


def image_references(catalog: Catalog, profile: str, registry: str = "") -> dict[str, str]:
    """Each service's image under a tag of its id (a new build is a new spec, so it rolls),
    pushed to `registry` when given; the variables naming them."""
    references = {}
    for service in catalog.profile(profile):
        local = image(service.name)
        try:
            found = client().images.get(local)
        except NotFound:
            raise ToolkitError(f"{local} is missing", "`inv build` first") from None
        tag = found.id.split(":", 1)[-1][:12]
        repository = f"{registry}/{PROJECT}/{service.name}" if registry else local.split(":")[0]
        found.tag(repository, tag)
        reference = f"{repository}:{tag}"
        if registry:
            run(["docker", "push", reference], doing=f"pushing {reference}")
        references[swarmfile.variable("image", service.name)] = reference
    return references


def deploy(catalog: Catalog, profile: str, environment: dict[str, str]) -> None:
    """`docker stack deploy` of the profile's stack file; returns once Swarm took it."""
    run(
        [
            "docker",
            "stack",
            "deploy",
            "--compose-file",
            str(swarmfile.path(profile)),
            "--resolve-image",
            "never",  # local or pushed by us: nothing to resolve
            "--prune",
            PROJECT,
        ],
        doing=f"deploying profile {profile} to the swarm",
        env={**os.environ, **environment},
    )


def _services() -> list:
    return client().services.list(filters={"label": f"{LABEL}={PROJECT}"})


def status() -> list[ServiceStatus]:
    """Each service of the stack: replicas wanted and running (healthy: Swarm counts a task
    with a health check as running only once it is healthy), its update's state."""
    result = []
    for service in _services():
        spec = service.attrs["Spec"]
        wanted = spec.get("Mode", {}).get("Replicated", {}).get("Replicas", 1)
        tasks = service.tasks(filters={"desired-state": "running"})
        running = sum(1 for t in tasks if t.get("Status", {}).get("State") == "running")
        update = service.attrs.get("UpdateStatus") or {}
        result.append(
            ServiceStatus(
                spec["Name"].removeprefix(f"{PROJECT}_"),
                wanted,
                running,
                update.get("State", ""),
                update.get("Message", ""),
                spec["TaskTemplate"]["ContainerSpec"]["Image"].split("@")[0],
                update.get("StartedAt", ""),
            )
        )
    return sorted(result, key=lambda s: s.name)


def update_marks() -> dict[str, str]:
    """When each service's last update began: taken before a change, so that the wait after
    it does not mistake an earlier rollback for this change's."""
    return {s.name: s.update_started for s in status()}


def wait_converged(
    names: list[str],
    timeout: float,
    on_change: Callable[[ServiceStatus], None] | None = None,
    before: dict[str, str] | None = None,
) -> list[ServiceStatus]:
    """Until every named service runs all its replicas and no update is under way; an update
    begun after `before` (update_marks) that Swarm rolled back raises RolledBack."""
    deadline = time.monotonic() + timeout
    seen: dict[str, tuple] = {}
    before = before or {}
    while True:
        current = {s.name: s for s in status()}
        for name in names:
            state = current.get(name)
            if state is None:
                continue
            if on_change and seen.get(name) != (state.running, state.update):
                on_change(state)
                seen[name] = (state.running, state.update)
            fresh = state.update_started != before.get(name, "")
            if fresh and state.update == "rollback_completed":
                raise RolledBack(name, state.message)
        done = [
            n
            for n in names
            if n in current
            and current[n].running == current[n].wanted
            and current[n].update not in ("updating", "rollback_started")
        ]
        if len(done) == len(names):
            return [current[n] for n in names]
        if time.monotonic() > deadline:
            waiting = [n for n in names if n not in done]
            raise ToolkitError(
                f"not converged after {timeout:.0f}s: {', '.join(waiting)}",
                f"`docker service ps {PROJECT}_{waiting[0]} --no-trunc` shows its tasks",
            )
        time.sleep(1)


def update_image(service: str, reference: str, timeout: float) -> ServiceStatus:
    """Roll a service to another image (start-first, watched for `monitor`); RolledBack when
    its new tasks never become healthy."""
    started = time.monotonic()
    before = update_marks()
    argv = ["docker", "service", "update", "--detach", "--image", reference]
    run([*argv, f"{PROJECT}_{service}"], doing=f"updating {service}")
    time.sleep(1)  # the update has begun: its state is "updating" from here on
    remaining = timeout - (time.monotonic() - started)
    (state,) = wait_converged([service], remaining, before=before)
    return state


def scale(service: str, replicas: int, timeout: float) -> ServiceStatus:
    run(
        ["docker", "service", "scale", "--detach", f"{PROJECT}_{service}={replicas}"],
        doing=f"scaling {service} to {replicas}",
    )
    (state,) = wait_converged([service], timeout)
    return state


def rollback(service: str, timeout: float) -> ServiceStatus:
    """Back to the service's previous spec (its image and settings before the last update)."""
    run(
        ["docker", "service", "rollback", "--detach", f"{PROJECT}_{service}"],
        doing=f"rolling {service} back",
    )
    time.sleep(1)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        current = {s.name: s for s in status()}[service]
        if current.update == "rollback_completed" and current.running == current.wanted:
            return current
        time.sleep(1)
    raise ToolkitError(f"{service} did not roll back within {timeout:.0f}s", "`docker service ps`")


def remove(say: Callable[[str], None], timeout: float = 120) -> None:
    """`docker stack rm`, then wait until its services and networks are gone (deploying again
    before that fails on a network being removed)."""
    if not _services():
        return
    run(["docker", "stack", "rm", PROJECT], doing="removing the stack")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        networks = client().networks.list(filters={"label": f"{LABEL}={PROJECT}"})
        if not _services() and not networks:
            say("the stack is removed")
            return
        time.sleep(1)
    raise ToolkitError("the stack's networks are still there", "`docker network ls`")


def leave_if_created(say: Callable[[str], None]) -> bool:
    """Leave the swarm when the toolkit made it (never one that was there before), and give
    the compose stack its DNS names back; True when it left."""
    try:
        created = json.loads(STATE.read_text()).get("created_by_toolkit", False)
    except (OSError, ValueError):
        created = False
    if not created or node_state() != "active":
        STATE.unlink(missing_ok=True)
        return False
    run(["docker", "swarm", "leave", "--force"], doing="docker swarm leave")
    STATE.unlink(missing_ok=True)
    # Absent, or still held by a container: the engine keeps it then.
    with contextlib.suppress(NotFound, APIError):
        client().networks.get("docker_gwbridge").remove()
    say("left the swarm the toolkit had made")
    running = [n for n, c in containers().items() if c.state.running]
    if running:
        say(
            f"restarting the compose stack's containers ({len(running)}): leaving a swarm "
            "wipes their DNS names"
        )
        restart(running)
    return True
