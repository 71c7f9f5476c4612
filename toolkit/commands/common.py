"""What every command shares: one-line errors instead of tracebacks, the catalog, and
service names as users type them."""

from __future__ import annotations

import functools

from invoke import Exit

from toolkit import catalog as catalog_mod
from toolkit.console import console
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


# What a command does when not told otherwise; invoke's configuration (`tiered:`) overrides.
DEFAULTS = {"profile": "core", "timeout": 300, "tail": 100}


def setting(c, key: str, given=None):
    """`given` when the command line gave it, else the configuration's `tiered.<key>`, else
    the default."""
    if given not in (None, ""):
        return given
    configured = c.config.get("tiered", {}) if c is not None else {}
    return configured.get(key, DEFAULTS[key])


def load_catalog():
    return catalog_mod.load()


def services_of(tier: int | None, services: str, profile: str = "full"):
    """The services named (comma or space separated), else a tier's, else a profile's."""
    cat = load_catalog()
    if services:
        return cat.select([s for s in services.replace(",", " ").split() if s])
    if tier is not None:
        return cat.tier(int(tier))
    return cat.profile(profile)


def names_of(cat, services: str) -> list[str]:
    """Service or infrastructure names from a comma-separated list; an unknown one fails
    before Docker is touched."""
    names = [n for n in services.replace(",", " ").split() if n]
    known = [*cat.services, *cat.infrastructure]
    for name in names:
        if name not in known:
            raise Exit(f"unknown service {name!r}: choose one of {', '.join(known)}", code=1)
    return names


def with_needs(cat, selected: list) -> tuple[list, list[str]]:
    """The services `selected` need running too (transitively), and their infrastructure."""
    wanted = {s.name for s in selected}
    infra: set[str] = set()
    for service in selected:
        dependencies, needed = cat.needs(service)
        wanted |= {d.name for d in dependencies}
        infra |= set(needed)
    return [s for s in cat.services.values() if s.name in wanted], [
        i for i in cat.infrastructure if i in infra
    ]


def show_change(name: str, state: str, health_status: str) -> None:
    """One line each time a container's state or health changes while `inv up` waits."""
    shown = health_status if health_status != "none" else state
    colour = {"healthy": "green", "unhealthy": "red", "exited": "red"}.get(shown, "dim")
    console.print(f"  [{colour}]{name}: {shown}[/]")
