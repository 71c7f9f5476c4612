"""The catalog: every service described once (catalog.yaml), everything else derived from it.

catalog.yaml is validated by typed pydantic models (toolkit/catalog_models.py). Why pydantic:
the services already use it, and one declaration gives unknown keys as errors
(`extra="forbid"`: a typo such as `depnds_on` no longer vanishes), the types, and the JSON
Schema editors read (`catalog.schema.json`, see catalog.yaml's first line). What no single
field can say (unknown or heavier dependencies, cycles, duplicate ports, unknown tiers and
infrastructure, access rules, callers) is checked here, after the models. Every problem names
the file, line and column of the key or value at fault, all of them at once, e.g.
`catalog.yaml:57:5: services.user-service: unknown key 'depnds_on' (did you mean
'depends_on'?)`; the YAML is read with the positions of its nodes for that.

After changing the models, regenerate the schema (tests/test_catalog.py fails until then):
    .venv/bin/python -m toolkit.catalog --schema > catalog.schema.json

TIERED_CATALOG=path reads another catalog file instead of catalog.yaml (the tests break a copy
with it to check that `nox --list` survives a broken catalog).
"""

from __future__ import annotations

import functools
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from toolkit.access import AccessRule
from toolkit.catalog_models import (
    EXTRA_KEYS,
    NAME,
    SECRETS,
    CatalogModel,
    Problem,
    json_schema,
    suggest,
    translate,
)
from toolkit.catalog_yaml import display, error, one_line, read
from toolkit.errors import ToolkitError

__all__ = ["NAME", "SECRETS", "AccessRule", "json_schema", "one_line"]

ROOT = Path(__file__).resolve().parent.parent
CATALOG_FILE = Path(os.environ.get("TIERED_CATALOG") or ROOT / "catalog.yaml").resolve()
SCHEMA_FILE = ROOT / "catalog.schema.json"


@dataclass(frozen=True)
class Budget:
    """A measure with the seed's claimed figure and our target (either may be absent)."""

    seed: float | None
    target: float | None


@dataclass(frozen=True)
class Infrastructure:
    name: str
    image: str
    port: int


@dataclass(frozen=True)
class Service:
    name: str
    tier: int
    port: int
    health: str
    public: bool
    depends_on: tuple[str, ...]
    infrastructure: tuple[str, ...]
    tuning: dict[str, int]
    budgets: dict[str, Budget]
    # Its port on the host's 127.0.0.1; the gateway's alone by default (`publish: true` for
    # another one while debugging: it still refuses calls without an internal credential).
    publish: bool = False
    # Services it calls when they run but can do without (any tier): it gets their URL, but
    # compose neither starts them with it nor waits for them.
    uses: tuple[str, ...] = ()
    # Who may call which of its routes through the gateway (public services; toolkit/access.py).
    access: tuple[AccessRule, ...] = ()
    # The routes some of its internal callers are held to (`callers:`; unlisted callers may
    # use every route): caller name -> routes (toolkit/access.Route).
    callers: dict[str, tuple[AccessRule, ...]] = field(default_factory=dict)
    # The declared keys without an attribute of their own, as written (catalog_models.EXTRA_KEYS:
    # gateway, secrets, env, test_env, limits, state).
    extra: dict = field(default_factory=dict)

    @property
    def directory(self) -> Path:
        return ROOT / "services" / self.name

    @property
    def workers(self) -> int:
        return int(self.tuning.get("workers", 1))

    @property
    def threads(self) -> int:
        return int(self.tuning.get("threads", 1))


@dataclass(frozen=True)
class Catalog:
    python: str
    profiles: dict[str, int]
    tiers: dict[int, str]
    infrastructure: dict[str, Infrastructure]
    services: dict[str, Service]
    profile_budgets: dict[str, dict[str, Budget]] = field(default_factory=dict)

    def service(self, name: str) -> Service:
        try:
            return self.services[name]
        except KeyError:
            raise ToolkitError(
                f"unknown service {name!r}", f"choose one of: {', '.join(self.services)}"
            ) from None

    def select(self, names: list[str] | tuple[str, ...]) -> list[Service]:
        """Services by name, in catalog order; an unknown name lists the valid ones."""
        wanted = [self.service(name).name for name in names]
        return [s for s in self.services.values() if s.name in wanted]

    def profile(self, name: str) -> list[Service]:
        """The services a cumulative profile runs: every tier up to its `max_tier`."""
        if name not in self.profiles:
            raise ToolkitError(
                f"unknown profile {name!r}", f"choose one of: {', '.join(self.profiles)}"
            )
        return [s for s in self.services.values() if s.tier <= self.profiles[name]]

    def tier(self, number: int) -> list[Service]:
        if number not in self.tiers:
            valid = ", ".join(f"{n} ({label})" for n, label in self.tiers.items())
            raise ToolkitError(f"unknown tier {number}", f"choose one of: {valid}")
        return [s for s in self.services.values() if s.tier == number]

    def profiles_of(self, service: Service) -> list[str]:
        return [p for p, max_tier in self.profiles.items() if service.tier <= max_tier]

    def callers_of(self, service: Service) -> list[str]:
        """The services the catalog lets call `service`: whoever depends on or uses it, and
        the gateway for the public ones (in catalog order)."""
        return [
            s.name
            for s in self.services.values()
            if service.name in (*s.depends_on, *s.uses)
            or (s.extra.get("gateway") and service.public)
        ]

    def infra_profiles(self, infra: str) -> list[str]:
        """An infrastructure service runs in every profile that has a service needing it."""
        return [p for p in self.profiles if any(infra in s.infrastructure for s in self.profile(p))]

    def profile_infrastructure(self, profile: str) -> list[str]:
        """The infrastructure a profile runs, in catalog order."""
        return [i for i in self.infrastructure if profile in self.infra_profiles(i)]

    def needs(self, service: Service) -> tuple[list[Service], list[str]]:
        """Everything a service needs running: its service dependencies (transitively) and
        the infrastructure of all of them."""
        seen: dict[str, Service] = {}
        pending = list(service.depends_on)
        while pending:
            dep = self.service(pending.pop())
            if dep.name not in seen:
                seen[dep.name] = dep
                pending.extend(dep.depends_on)
        infra = {i for s in [service, *seen.values()] for i in s.infrastructure}
        return (
            [s for s in self.services.values() if s.name in seen],
            [i for i in self.infrastructure if i in infra],
        )


class Unloaded:
    """Stands in for a catalog that failed to load (the noxfile's, so `nox --list` still
    lists the sessions): whatever uses it raises the loading error."""

    def __init__(self, error: ToolkitError) -> None:
        self.error = error

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        raise self.error


# ---- reading and checking -----------------------------------------------------------------


@functools.cache
def load(path: Path = CATALOG_FILE) -> Catalog:
    """Read and validate catalog.yaml (once per process)."""
    source = display(path, ROOT)
    data, positions, duplicates = read(path, source)
    return _parse(data, source, positions, duplicates)


def parse(data: object) -> Catalog:
    """Validate the raw YAML data and build the catalog; every problem names its place (its
    line and column too when load() read it)."""
    return _parse(data, display(CATALOG_FILE, ROOT), {}, [])


def _parse(data: object, source: str, positions: dict, problems: list[Problem]) -> Catalog:
    try:
        model = CatalogModel.model_validate(data)
    except ValidationError as exc:
        found = [translate(error) for error in exc.errors(include_url=False)]
        raise error(source, data, positions, [*problems, *found]) from None
    assert isinstance(data, dict)  # the model took it
    catalog = _build(model, data)
    problems = [*problems, *_check(catalog, model)]
    if problems:
        raise error(source, data, positions, problems)
    return catalog


def _budgets(raw: dict) -> dict[str, Budget]:
    return {measure: Budget(v.get("seed"), v.get("target")) for measure, v in raw.items()}


def _build(model: CatalogModel, data: dict) -> Catalog:
    """The toolkit's catalog from the validated model; values as written where the toolkit
    reads them as such (tuning, budgets, `extra`)."""
    services = {}
    for name, entry in model.services.items():
        raw = data["services"][name]
        services[name] = Service(
            name=name,
            tier=entry.tier,
            port=entry.port,
            health=entry.health,
            public=entry.public,
            publish=entry.gateway if entry.publish is None else entry.publish,
            depends_on=tuple(entry.depends_on),
            uses=tuple(entry.uses),
            infrastructure=tuple(entry.infrastructure),
            tuning=dict(raw.get("tuning", {})),
            budgets=_budgets(raw.get("budgets", {})),
            access=tuple(rule.rule() for rule in entry.access or ()),
            callers={c: tuple(r.rule() for r in routes) for c, routes in entry.callers.items()},
            extra={key: raw[key] for key in EXTRA_KEYS if key in raw},
        )
    return Catalog(
        python=model.python,
        profiles=dict(model.profiles),
        tiers=dict(model.tiers),
        infrastructure={
            n: Infrastructure(n, i.image, i.port) for n, i in model.infrastructure.items()
        },
        services=services,
        profile_budgets={p: _budgets(raw) for p, raw in data.get("profile_budgets", {}).items()},
    )


def _check(catalog: Catalog, model: CatalogModel) -> list[Problem]:
    """What no single field can say: tiers, ports, dependencies, access rules, callers."""
    problems = []
    tiers, services = sorted(catalog.tiers), catalog.services
    for name, max_tier in catalog.profiles.items():
        if max_tier not in catalog.tiers:
            problems.append(Problem(("profiles", name), f"tier {max_tier} is not in tiers {tiers}"))
    for name in catalog.profile_budgets:
        if name not in catalog.profiles:
            what = "not a profile" + suggest(name, list(catalog.profiles), "the profiles")
            problems.append(Problem(("profile_budgets", name), what, key=True))
    ports: dict[int, str] = {}
    for service in services.values():
        where = ("services", service.name)
        if service.tier not in catalog.tiers:
            problems.append(Problem((*where, "tier"), f"tier {service.tier} is not one of {tiers}"))
        if service.port in ports:
            what = f"port {service.port} is already used by {ports[service.port]}"
            problems.append(Problem((*where, "port"), what))
        ports.setdefault(service.port, service.name)
        for index, infra in enumerate(service.infrastructure):
            if infra not in catalog.infrastructure:
                what = f"unknown infrastructure {infra!r}"
                what += suggest(infra, list(catalog.infrastructure), "the infrastructure")
                problems.append(Problem((*where, "infrastructure", index), what))
        written = model.services[service.name].access is not None
        if service.public and not written:
            what = "a public service needs an `access` list (`[]`: any user, everything)"
            problems.append(Problem(where, what, key=True))
        if not service.public and written:
            what = "only public services have access rules (the gateway routes them)"
            problems.append(Problem((*where, "access"), what, key=True))
        if service.extra.get("state") and int(service.extra.get("replicas", 1)) > 1:
            what = "a service with `state: true` runs one replica (its volume is one process's)"
            problems.append(Problem((*where, "replicas"), what))
        problems += _dependencies(catalog, service)
    problems += _cycles(services)
    for service in services.values():
        allowed = catalog.callers_of(service)
        for caller in service.callers:
            if caller not in allowed:
                what = (
                    f"{caller} does not call {service.name} (its callers, from depends_on, "
                    f"uses and the gateway: {', '.join(allowed) or 'none'})"
                )
                problems.append(
                    Problem(("services", service.name, "callers", caller), what, key=True)
                )
    return problems


def _dependencies(catalog: Catalog, service: Service) -> list[Problem]:
    problems, services = [], catalog.services
    where = ("services", service.name)
    for index, dep in enumerate(service.depends_on):
        at = (*where, "depends_on", index)
        if dep not in services:
            what = f"depends on unknown service {dep!r}" + suggest(dep, list(services), "services")
            problems.append(Problem(at, what))
        elif services[dep].tier > service.tier and services[dep].tier in catalog.tiers:
            what = (
                f"depends on {dep} (tier {services[dep].tier}), a heavier tier than its own "
                f"({service.tier}); list it under `uses` if it can do without"
            )
            problems.append(Problem(at, what))
    for index, used in enumerate(service.uses):
        at = (*where, "uses", index)
        if used not in services:
            what = f"uses unknown service {used!r}" + suggest(used, list(services), "services")
            problems.append(Problem(at, what))
        elif used == service.name:
            problems.append(Problem(at, "a service cannot use itself"))
        elif used in service.depends_on:
            what = f"{used} is in both depends_on and uses: a service needs it or can do without"
            problems.append(Problem(at, what))
    return problems


def _cycles(services: dict[str, Service]) -> list[Problem]:
    """Compose refuses a dependency cycle; say where it is instead."""
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> Problem | None:
        if name in path:
            cycle = " -> ".join([*path[path.index(name) :], name])
            return Problem(("services", path[0], "depends_on"), f"dependency cycle: {cycle}")
        if name in done or name not in services:
            return None
        for dep in services[name].depends_on:
            if found := visit(dep, [*path, name]):
                return found
        done.add(name)
        return None

    for name in services:
        if found := visit(name, []):
            return [found]
    return []


if __name__ == "__main__":
    if sys.argv[1:] != ["--schema"]:
        sys.exit("usage: python -m toolkit.catalog --schema > catalog.schema.json")
    print(json.dumps(json_schema(), indent=2))
