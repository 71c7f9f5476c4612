"""Commands that prepare a machine and the files the stack is made from: doctor, images,
wheels, lock, render, env."""

from __future__ import annotations

from invoke import Exit, task

from toolkit import catalog as catalog_mod
from toolkit import engine, envfile, images, indexes, render, wheels
from toolkit.commands import common
from toolkit.console import console, mb, table


@task
@common.friendly
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
        "redis, clickhouse; registry, made only when named)",
        "rebuild": "build or pull again even if present",
        "prune": "instead, remove dangling images and the build cache (frees disk; the next "
        "builds are cold)",
    }
)
@common.friendly
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


@task(
    help={
        "tier": "only the services of this tier",
        "services": "service names, comma-separated (e.g. api-gateway,user-service)",
        "verify": "only check the wheelhouse against its manifest",
    }
)
@common.friendly
def wheels_(c, tier=None, services="", verify=False):
    """Fill the wheelhouse for the images' interpreter, with a sha256 manifest."""
    selected = common.services_of(tier, services)
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
@common.friendly
def render_(c, check=False):
    """Write the files derived from the catalog (Dockerfiles, requirements, compose)."""
    cat = common.load_catalog()
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
@common.friendly
def lock(c):
    """Lock dependencies (uv lock), through a mirror where an index cannot be reached.

    The lock always names each package's canonical source; an index that does not answer
    here is served from its mirror folder ([tool.tiered.index-mirrors]) for the resolution."""
    indexes.lock(progress=console.print)
    console.print("uv.lock written: run `inv render` to export each service's slice")


@task
@common.friendly
def env(c):
    """Create the env file with random development secrets (existing values are kept)."""
    path, added = envfile.ensure()
    console.print(f"{path}: " + (f"added {', '.join(added)}" if added else "complete"))
