"""Commands that build, start, watch and stop the stack: build, up, health, ps, logs,
restart, exec, clean, down."""

from __future__ import annotations

import shlex
import sys
import time

from invoke import Exit, task

from toolkit import builds, devloop, fingerprint, health, images, stack
from toolkit.commands import common
from toolkit.console import console, mb, step, table
from toolkit.names import Stage
from toolkit.names import image as image_name


@task(
    help={
        "services": "service names (default: the profile's)",
        "profile": "core, data, ai or full",
        "target": "production (default), application (the dev image) or test",
        "no_cache": "ignore the layer cache (implies --force)",
        "force": "build even when nothing changed since the last build",
    }
)
@common.friendly
def build(c, services="", profile="full", target="production", no_cache=False, force=False):
    """Build service images through compose, skipping unchanged ones, with timings.

    A service is skipped when its fingerprint (sources, lock slice, wheels, base images,
    Dockerfile) matches its last build and the image that build made is still there."""
    cat = common.load_catalog()
    selected = common.services_of(None, services, profile)
    purpose = fingerprint.build_purpose(target)
    if target == "application":
        timings = devloop.build(cat, selected, force=force, cache=not no_cache)
    else:
        timings = builds.ensure_built(
            cat, selected, target, force=force or no_cache, cache=not no_cache
        )
    client = stack.compose()
    rows = []
    for service in selected:
        tag = fingerprint.image_tag(service, purpose)
        size = client.image.inspect(tag).size if client.image.exists(tag) else 0
        budget = service.budgets.get("image_mb")
        seconds = timings[service.name]
        rows.append(
            (
                service.name,
                "skipped (unchanged)" if seconds is None else f"{seconds:.1f}",
                mb(size),
                f"{budget.target:.0f} MB" if budget and budget.target else "",
            )
        )
    console.print(table("build", ["service", "seconds", "image", "target size"], rows))


@task(
    help={
        "profile": "core, data, ai or full (cumulative tiers; default core, or tiered.profile)",
        "services": "only these services (comma-separated) and what they need",
        "timeout": "seconds to wait for health (default 300, or tiered.timeout)",
        "build_": "rebuild images first",
        "dev": "the profile's services in dev mode (source mounted, reload on save)",
    }
)
@common.friendly
def up(c, profile=None, services="", timeout=None, build_=False, dev=False):
    """Start a profile (or some services), building what is missing, and wait until healthy."""
    profile = common.setting(c, "profile", profile)
    timeout = common.setting(c, "timeout", timeout)
    cat = common.load_catalog()
    if dev:
        targets = services or profile
        states = devloop.start(cat, targets, timeout=float(timeout), force_build=build_)
        devloop.print_states(states)
        return
    if services:
        selected, infra = common.with_needs(cat, cat.select(common.names_of(cat, services)))
        profile = "full"  # every service's profile: compose must know each one named
    else:
        selected = cat.profile(profile)
        infra = cat.profile_infrastructure(profile)
    builds.ensure_built(cat, selected, force=build_)
    conflicts = stack.port_conflicts(cat, selected)
    if conflicts:
        raise Exit(
            "; ".join(conflicts) + ": stop whatever holds it, or change the port in "
            "catalog.yaml and run `inv render`",
            code=1,
        )
    names = [*infra, *(s.name for s in selected)]
    what = ", ".join(s.name for s in selected) if services else f"profile {profile}"
    started = time.perf_counter()
    try:
        with step(f"start {what} and wait until healthy") as note:
            states = health.start_and_wait(
                cat,
                names,
                lambda: stack.up(profile, selected),
                timeout=float(timeout),
                on_change=common.show_change,
            )
            note["note"] = f"all {len(names)} healthy"
    except health.NeverHealthy as exc:
        console.print(f"[red]{exc.problem}[/]; last log lines of {exc.service}:")
        console.print(stack.logs(exc.service, tail=30), markup=False)
        raise Exit(f"profile {profile} did not become healthy", code=1) from None
    console.print(
        table(
            f"profile {profile}",
            ["service", "state", "health", "healthy after", "url"],
            [
                (
                    s.name,
                    s.state,
                    s.health,
                    f"{s.seconds:.1f}s" if s.seconds is not None else "",
                    s.url,
                )
                for s in states
            ],
        )
    )
    console.print(
        f"{len(states)} containers healthy {time.perf_counter() - started:.1f}s after start"
    )
    restarted = [s for s in states if s.restarts]
    if restarted:
        console.print(
            "[yellow]restarted by the engine after their process died:[/] "
            + ", ".join(f"{s.name} ({s.restarts}x)" for s in restarted)
            + "; `inv logs SERVICE` shows why"
        )


@task
@common.friendly
def health_(c):
    """Ask every running service for its health now (the seed's health-check-all)."""
    rows = health.probe_all(common.load_catalog())
    if not rows:
        raise Exit("no service is running: `inv up --profile core`", code=1)
    console.print(table("health", ["service", "status", "backends", "restarts", "url"], rows))
    if any(r[1] not in ("ok", "degraded") for r in rows):
        raise Exit("some services are not healthy", code=1)


health_.__name__ = "health"


@task
@common.friendly
def ps(c):
    """List the stack's containers with state, health, restarts and where to reach them."""
    cat = common.load_catalog()
    running = stack.containers()
    if not running:
        console.print("nothing runs: `inv up --profile core` starts the core tier")
        return
    rows = []
    for name, container in sorted(running.items()):
        state = container.state
        rows.append(
            (
                name,
                state.status,
                (state.health.status if state.health else ""),
                str(container.restart_count),
                health.url_of(cat, name),
                container.config.image,
            )
        )
    console.print(
        table("containers", ["service", "state", "health", "restarts", "url", "image"], rows)
    )


@task(
    positional=["services"],
    help={
        "services": "services or infrastructure, comma-separated, or `all`",
        "tail": "number of lines of each (default 100, or tiered.tail)",
        "follow": "keep following new lines until Ctrl-C",
    },
)
@common.friendly
def logs(c, services, tail=None, follow=False):
    """Show the last log lines of one service, several or `all` (prefixed); -f follows."""
    tail = common.setting(c, "tail", tail)
    cat = common.load_catalog()
    names = [] if services == "all" else common.names_of(cat, services)
    if follow:
        raise Exit(code=stack.follow_logs(names, int(tail)))
    if len(names) == 1:
        sys.stdout.write(stack.logs(names[0], tail=int(tail)))
        return
    sys.stdout.write(stack.logs(names or list(stack.containers()), tail=int(tail)))


@task(
    help={
        "services": "services or infrastructure, comma-separated",
        "timeout": "seconds to wait for health",
    }
)
@common.friendly
def restart(c, services, timeout=120):
    """Restart services (a new process each, same image) and wait until they are healthy."""
    cat = common.load_catalog()
    names = common.names_of(cat, services)
    if not names:
        raise Exit("name the services to restart, e.g. `inv restart user-service`", code=1)
    with step(f"restart {', '.join(names)}") as note:
        started = time.perf_counter()
        # First the restart itself (compose returns once each is started again, its health
        # back at `starting`), then the wait: polled alongside, the old process's `healthy`
        # would count.
        stack.restart(names)
        states = health.wait_healthy(cat, names, started, timeout=float(timeout))
        note["note"] = ", ".join(f"{s.name} {s.seconds:.1f}s" for s in states)


@task(
    help={
        "service": "a running service or infrastructure container",
        "command": "the command line to run, e.g. 'python -V' (or everything after a lone "
        "--: inv exec redis -- redis-cli --version); default: a shell",
    },
)
@common.friendly
def exec_(c, service, command=""):
    """Run a command (a shell by default) in a service's running container."""
    names = common.names_of(common.load_catalog(), service)
    if len(names) != 1:
        raise Exit("name one service, e.g. `inv exec user-service`", code=1)
    argv = shlex.split(command or getattr(c, "remainder", "") or "sh")
    raise Exit(code=stack.exec_in(names[0], argv, tty=sys.stdin.isatty()))


exec_.__name__ = "exec"


@task(
    help={
        "volumes": "also delete the data volumes (PostgreSQL, ClickHouse, Redis, state)",
        "base": "also remove the base and infrastructure images (`inv images` makes them again)",
    }
)
@common.friendly
def clean(c, volumes=False, base=False):
    """Stop everything and remove the stack's images and build records (volumes too with -v).

    Data volumes are kept unless --volumes; the next `inv up` builds from scratch."""
    cat = common.load_catalog()
    stack.down(None, None, volumes)
    tags = [image_name(s.name, stage) for s in cat.services.values() for stage in Stage]
    if base:
        tags += [recipe.tag for recipe in images.RECIPES]
    removed = stack.remove_images(tags)
    cleared = fingerprint.forget_all()
    console.print(
        f"stopped the stack{' and deleted its volumes' if volumes else ''}; removed "
        f"{len(removed)} image(s) and {cleared} build record(s)"
    )


@task(
    help={
        "profile": "stop only this profile's services (infrastructure a heavier tier still "
        "uses stays up); default: everything that runs",
        "all_": "stop everything (the default when no --profile is given)",
        "volumes": "also delete the data volumes",
    }
)
@common.friendly
def down(c, profile="", all_=False, volumes=False):
    """Stop what runs, or one profile's containers (data volumes are kept unless --volumes)."""
    cat = common.load_catalog()
    if all_ or not profile:
        stack.down(None, None, volumes)
        console.print("stopped every container of the stack")
        return
    selected = [s.name for s in cat.profile(profile)]
    heavier = [s.name for s in cat.services.values() if s.name not in selected]
    running = set(stack.containers())
    # Infrastructure stays up while a heavier tier that still runs needs it.
    infra = [
        i
        for i in cat.infrastructure
        if not any(h in running and i in cat.services[h].infrastructure for h in heavier)
    ]
    stack.down(profile, [*selected, *infra], volumes)
    console.print(f"stopped profile {profile}: {', '.join([*selected, *infra])}")
