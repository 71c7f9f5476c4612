"""Service images built when their inputs changed, by every command that needs them current.

`inv build`, `inv up`, the test sessions (for the services a suite talks to), dev mode and the
benchmarks all go through `ensure_built`: an image is rebuilt when its fingerprint (sources,
lock slice, wheels, base images, Dockerfile; toolkit/fingerprint.py) differs from its last
build's, or when it is missing, so nothing ever runs yesterday's code from an image that
merely exists. Unchanged images cost one fingerprint each; a fresh clone has no records and
rebuilds through the layer cache, which takes seconds when nothing really changed.
"""

from __future__ import annotations

from collections.abc import Iterable

from toolkit import fingerprint, images, indexes, stack, wheels
from toolkit.catalog import Catalog, Service
from toolkit.console import console, step
from toolkit.errors import ToolkitError


def prepare(services: Iterable[Service]) -> None:
    """What any build needs first: base images, the wheels the build's own index fallback
    cannot get (torch's CPU build, from PyTorch's index or its mirror), and a note when other
    wheels are missing."""
    selected = list(services)
    if images.missing():
        images.ensure_all()
    problems = wheels.verify(selected)
    elsewhere = indexes.locked_packages()
    needs_local = [
        s
        for s in selected
        if problems.get(s.name) and any(p.name in elsewhere for p in wheels.requirements_of(s))
    ]
    if needs_local:
        names = ", ".join(s.name for s in needs_local)
        console.print(
            f"{names}: some wheels come from an index besides PyPI: filling the wheelhouse first"
        )
        wheels.fill(needs_local, progress=console.print)
        problems = wheels.verify(selected)
    incomplete = [name for name, issues in problems.items() if issues]
    if incomplete:
        console.print(
            f"[yellow]note:[/] wheelhouse incomplete for {', '.join(incomplete)}: those "
            "builds use the online index (`inv wheels` makes them offline-ready)"
        )
        corrupt = [i for issues in problems.values() for i in issues if i.startswith("corrupt")]
        if corrupt:
            raise ToolkitError(corrupt[0], "delete that file and run `inv wheels`")


def ensure_built(
    catalog: Catalog,
    services: Iterable[Service],
    target: str = "production",
    *,
    force: bool = False,
    cache: bool = True,
) -> dict[str, float | None]:
    """Build the services whose `target` image is missing or out of date; seconds per service
    (None for those left as they were)."""
    purpose = fingerprint.build_purpose(target)
    selected = list(services)
    timings: dict[str, float | None] = {s.name: None for s in selected}
    todo = []
    for service in selected:
        decision = fingerprint.decide(catalog, service, purpose, force=force or not cache)
        if decision.skip:
            console.print(f"[dim]up to date[/] {service.name} ({target}): {decision.reason}")
        else:
            todo.append((service, decision))
    if todo:
        prepare(s for s, _ in todo)
    for service, decision in todo:
        with step(f"build {service.name} ({target}; {decision.reason})") as note:
            timings.update(stack.build([service], target=target, cache=cache))
            note["note"] = f"{timings[service.name]:.1f}s"
        fingerprint.record(catalog, service, purpose, decision)
    return timings
