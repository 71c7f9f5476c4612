"""Invoke tasks: thin wrappers over the toolkit package (`inv --list`)."""

from __future__ import annotations

import functools
import sys
import time

from invoke import Exit, task

from toolkit import (
    builds,
    devloop,
    engine,
    envfile,
    fingerprint,
    health,
    images,
    indexes,
    render,
    stack,
    wheels,
)
from toolkit import catalog as catalog_mod
from toolkit.console import console, mb, step, table
from toolkit.errors import ToolkitError


def friendly(function):
    """Turn a ToolkitError into a one-line message and exit code 1, never a traceback."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except ToolkitError as exc:
            console.print(f"[red]error:[/] {exc.problem}")
            if exc.fix:
                console.print(f"[yellow]fix:[/] {exc.fix}")
            raise Exit(code=1) from None

    return wrapper


def _catalog():
    return catalog_mod.load()


@task
@friendly
def doctor(c):
    """Check the engine, compose v2, BuildKit, the registry, disk and the CA bundle."""
    findings = engine.doctor()
    console.print(
        table(
            "doctor",
            ["check", "ok", "detail", "fix"],
            [(f.check, "yes" if f.ok else "NO", f.detail, f.fix) for f in findings],
        )
    )
    if any(f.required and not f.ok for f in findings):
        raise Exit("some checks failed: apply the fixes above", code=1)


@task(
    help={
        "only": "comma-separated image names (debian, python, python-build, postgres, "
        "redis, clickhouse)",
        "rebuild": "build or pull again even if present",
        "prune": "instead, remove dangling images and the build cache (frees disk; the next "
        "builds are cold)",
    }
)
@friendly
def images_(c, only="", rebuild=False, prune=False):
    """Pull base and infrastructure images, or build them locally when offline."""
    if prune:
        removed, caches, reclaimed = images.prune()
        console.print(
            f"removed {removed} dangling image(s) and {caches} build cache record(s): "
            f"{mb(reclaimed)} reclaimed"
        )
        return
    outcomes = images.ensure_all([n for n in only.split(",") if n] or None, rebuild)
    console.print(
        table(
            "images",
            ["image", "source", "size", "seconds"],
            [(o.recipe.tag, o.source, mb(o.size), f"{o.seconds:.1f}") for o in outcomes],
        )
    )


images_.__name__ = "images"


def _services(tier: int | None, services: str, profile: str = "full"):
    cat = _catalog()
    if services:
        return cat.select([s for s in services.replace(",", " ").split() if s])
    if tier is not None:
        return cat.tier(int(tier))
    return cat.profile(profile)


@task(
    help={
        "tier": "only the services of this tier",
        "services": "service names, comma-separated (e.g. api-gateway,user-service)",
        "verify": "only check the wheelhouse against its manifest",
    }
)
@friendly
def wheels_(c, tier=None, services="", verify=False):
    """Fill the wheelhouse for the images' interpreter, with a sha256 manifest."""
    selected = _services(tier, services)
    if not verify:
        images.ensure_all(["debian", "python"])
        manifest = wheels.fill(selected, progress=console.print)
        size = sum(w["bytes"] for w in manifest["wheels"].values())
        console.print(
            f"wheelhouse: {len(manifest['wheels'])} wheels, {mb(size)}, for Python "
            f"{manifest['target']['python_full_version']} "
            f"({manifest['target']['platform_machine']}, glibc {manifest['target']['glibc']})"
        )
    problems = wheels.verify(selected)
    console.print(
        table(
            "wheelhouse",
            ["service", "complete", "problems"],
            [
                (name, "yes" if not issues else "NO", "; ".join(issues[:3]))
                for name, issues in problems.items()
            ],
        )
    )
    if any(problems.values()):
        raise Exit("the wheelhouse is incomplete or corrupt: see above", code=1)


wheels_.__name__ = "wheels"


@task(help={"check": "fail if a generated file differs instead of writing it"})
@friendly
def render_(c, check=False):
    """Write the files derived from the catalog (Dockerfiles, requirements, compose)."""
    cat = _catalog()
    if check:
        drift = render.drifted(cat)
        if drift:
            names = ", ".join(str(p.relative_to(catalog_mod.ROOT)) for p in drift)
            raise Exit(
                f"generated files drifted from the catalog/template/lock: {names}; "
                "run `inv render` and commit",
                code=1,
            )
        console.print("generated files match the catalog, the template and uv.lock")
        return
    changed = render.write(cat)
    for path in changed:
        console.print(f"wrote {path.relative_to(catalog_mod.ROOT)}")
    console.print(f"{len(changed)} file(s) changed")


render_.__name__ = "render"


@task
@friendly
def lock(c):
    """Lock dependencies (uv lock), through a mirror where an index cannot be reached.

    The lock always names each package's canonical source; an index that does not answer
    here is served from its mirror folder ([tool.tiered.index-mirrors]) for the resolution."""
    indexes.lock(progress=console.print)
    console.print("uv.lock written: run `inv render` to export each service's slice")


@task
@friendly
def env(c):
    """Create the env file with random development secrets (existing values are kept)."""
    path, added = envfile.ensure()
    console.print(f"{path}: " + (f"added {', '.join(added)}" if added else "complete"))


@task(
    help={
        "services": "service names (default: the profile's)",
        "profile": "core, data, ai or full",
        "target": "production (default), application (the dev image) or test",
        "no_cache": "ignore the layer cache (implies --force)",
        "force": "build even when nothing changed since the last build",
    }
)
@friendly
def build(c, services="", profile="full", target="production", no_cache=False, force=False):
    """Build service images through compose, skipping unchanged ones, with timings.

    A service is skipped when its fingerprint (sources, lock slice, wheels, base images,
    Dockerfile) matches its last build and the image that build made is still there."""
    cat = _catalog()
    selected = _services(None, services, profile)
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
        "profile": "core, data, ai or full (cumulative tiers)",
        "timeout": "seconds to wait for health",
        "build_": "rebuild images first",
        "dev": "the profile's services in dev mode (source mounted, reload on save)",
    }
)
@friendly
def up(c, profile="core", timeout=300, build_=False, dev=False):
    """Start a profile, building what is missing, and wait until every service is healthy."""
    cat = _catalog()
    if dev:
        states = devloop.start(cat, profile, timeout=float(timeout), force_build=build_)
        devloop.print_states(states)
        return
    selected = cat.profile(profile)
    builds.ensure_built(cat, selected, force=build_)
    conflicts = stack.port_conflicts(cat, selected)
    if conflicts:
        raise Exit(
            "; ".join(conflicts) + ": stop whatever holds it, or change the port in "
            "catalog.yaml and run `inv render`",
            code=1,
        )
    names = [i for i in cat.infrastructure if profile in cat.infra_profiles(i)] + [
        s.name for s in selected
    ]
    started = time.perf_counter()
    try:
        with step(f"start profile {profile} and wait until healthy") as note:
            states = health.start_and_wait(
                cat, names, lambda: stack.up(profile, selected), timeout=float(timeout)
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
@friendly
def health_(c):
    """Ask every running service for its health now (the seed's health-check-all)."""
    rows = health.probe_all(_catalog())
    if not rows:
        raise Exit("no service is running: `inv up --profile core`", code=1)
    console.print(table("health", ["service", "status", "backends", "restarts", "url"], rows))
    if any(r[1] not in ("ok", "degraded") for r in rows):
        raise Exit("some services are not healthy", code=1)


health_.__name__ = "health"


@task
@friendly
def ps(c):
    """List the stack's containers with state and health."""
    rows = []
    for name, container in sorted(stack.containers().items()):
        state = container.state
        rows.append(
            (
                name,
                state.status,
                (state.health.status if state.health else ""),
                str(container.restart_count),
                container.config.image,
            )
        )
    console.print(table("containers", ["service", "state", "health", "restarts", "image"], rows))


@task(help={"service": "a service or infrastructure name", "tail": "number of lines"})
@friendly
def logs(c, service, tail=100):
    """Show a service's last log lines."""
    cat = _catalog()
    if service not in cat.services and service not in cat.infrastructure:
        raise Exit(
            f"unknown service {service!r}: choose one of "
            f"{', '.join([*cat.services, *cat.infrastructure])}",
            code=1,
        )
    sys.stdout.write(stack.logs(service, tail=int(tail)))


@task(
    help={
        "profile": "stop only this profile's services (infrastructure a heavier tier still "
        "uses stays up); default: everything that runs",
        "all_": "stop everything (the default when no --profile is given)",
        "volumes": "also delete the data volumes",
    }
)
@friendly
def down(c, profile="", all_=False, volumes=False):
    """Stop what runs, or one profile's containers (data volumes are kept unless --volumes)."""
    cat = _catalog()
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


@task(
    help={
        "services": "services and/or profiles, comma or space separated (e.g. api-gateway)",
        "timeout": "seconds to wait for health",
        "build_": "rebuild the dev images even when nothing changed",
        "measure": "then measure save-to-reload over N rounds (a copy of the source is edited)",
    }
)
@friendly
def dev(c, services, timeout=300, build_=False, measure=0):
    """Dev mode: services run their source with reload (a saved file needs no rebuild).

    Their dependencies run from production images; `inv up --profile P` ends dev mode."""
    cat = _catalog()
    devloop.print_states(devloop.start(cat, services, timeout=float(timeout), force_build=build_))
    console.print(
        "save a file under services/<name>/app or libs/servicekit and the service reloads; "
        "`inv up --profile core` goes back to production"
    )
    for service in devloop.resolve(cat, services) if int(measure) else []:
        summary = devloop.measure_reload(cat, service, int(measure))
        console.print(
            f"{service.name}: save-to-reload median {summary['median'] * 1000:.0f} ms "
            f"(min {summary['min'] * 1000:.0f}, max {summary['max'] * 1000:.0f}) "
            f"over {measure} rounds"
        )
