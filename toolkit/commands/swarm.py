"""The stack past one machine: deploy a profile to Docker Swarm, scale, roll back."""

from __future__ import annotations

from invoke import Exit, task

from toolkit import builds, envfile, stack
from toolkit.commands import common
from toolkit.console import console, step, table
from toolkit.stack import swarm


def _rows(cat, states) -> list[tuple]:
    rows = []
    for s in states:
        service = cat.services.get(s.name)
        url = f"http://127.0.0.1:{service.port}" if service and service.publish else "(internal)"
        healthy = "healthy" if s.running == s.wanted else f"{s.wanted - s.running} not yet"
        rows.append((s.name, f"{s.running}/{s.wanted}", healthy, s.update or "-", url))
    return rows


def _show(cat, states, title: str) -> None:
    columns = ["service", "replicas running/wanted", "health", "last update", "url"]
    console.print(table(title, columns, _rows(cat, states)))


def _show_change(state) -> None:
    colour = "green" if state.running == state.wanted else "dim"
    update = f", {state.update}" if state.update else ""
    console.print(f"  [{colour}]{state.name}: {state.running}/{state.wanted} running{update}[/]")


@task(
    help={
        "profile": "core, data, ai or full (default core, or tiered.profile)",
        "registry": "HOST:PORT of a registry to push the images to (several nodes need one), "
        "or `local`: one the toolkit runs on this host (Debian's docker-registry)",
        "down": "instead, remove the stack (and leave the swarm if the toolkit made it)",
        "status": "instead, show the stack's services: replicas, health, last update",
        "timeout": "seconds to wait until every service runs healthy",
    }
)
@common.friendly
def deploy(c, profile=None, registry="", down=False, status=False, timeout=300):
    """Deploy a profile to Docker Swarm (a one-node swarm is made when there is none)."""
    cat = common.load_catalog()
    if status:
        states = swarm.status()
        if not states:
            console.print("no stack on the swarm: `inv deploy --profile core` deploys one")
            return
        _show(cat, states, "swarm")
        return
    if down:
        swarm.remove(console.print)
        swarm.stop_registry(console.print)
        if not swarm.leave_if_created(console.print):
            console.print("the swarm stays (the toolkit did not make it)")
        return
    profile = common.setting(c, "profile", profile)
    selected = cat.profile(profile)
    running = stack.containers()
    gateway = next(s for s in cat.services.values() if s.extra.get("gateway"))
    if gateway.name in running and running[gateway.name].state.running:
        raise Exit(
            f"the compose stack's {gateway.name} holds port {gateway.port}: `inv down` first "
            "(compose and the swarm cannot both publish the gateway)",
            code=1,
        )
    builds.ensure_built(cat, selected)
    swarm.ensure_swarm(console.print)
    if registry == "local":
        registry = swarm.ensure_registry(console.print)
    values = envfile.read(envfile.ensure()[0])
    modes = swarm.modes(cat)
    environment = {
        **values,
        **modes,
        **swarm.ensure_secrets(cat, profile, values),
        **swarm.image_references(cat, profile, registry),
    }
    infra = cat.profile_infrastructure(profile)
    names = [*infra, *(s.name for s in selected)]
    before = swarm.update_marks()
    what = f"endpoints {modes['SWARM_ENDPOINT_MODE']}, ports {modes['SWARM_PUBLISH_MODE']}"
    with step(f"deploy profile {profile} to the swarm ({what}) and wait") as note:
        swarm.deploy(cat, profile, environment)
        states = swarm.wait_converged(names, float(timeout), on_change=_show_change, before=before)
        note["note"] = f"{len(states)} services converged"
    _show(cat, states, f"profile {profile} on the swarm")


@task(
    positional=["service", "replicas"],
    help={"service": "a stateless service", "replicas": "how many tasks", "timeout": "seconds"},
)
@common.friendly
def scale(c, service, replicas, timeout=180):
    """Run N replicas of a stateless service on the swarm."""
    cat = common.load_catalog()
    (name,) = common.names_of(cat, service) or [service]
    if name in cat.services and cat.service(name).extra.get("state"):
        raise Exit(f"{name} keeps state on one volume: it runs one replica", code=1)
    with step(f"scale {name} to {replicas}") as note:
        state = swarm.scale(name, int(replicas), float(timeout))
        note["note"] = f"{state.running}/{state.wanted} running"


@task(
    positional=["service"],
    help={"service": "a service of the stack", "timeout": "seconds"},
)
@common.friendly
def rollback(c, service, timeout=180):
    """Roll a swarm service back to its previous version (image and settings)."""
    (name,) = common.names_of(common.load_catalog(), service) or [service]
    with step(f"roll {name} back") as note:
        state = swarm.rollback(name, float(timeout))
        note["note"] = f"{state.running}/{state.wanted} running {state.image}"
