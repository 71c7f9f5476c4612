"""The catalog: every service described once (catalog.yaml), everything else derived from it."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from toolkit import access
from toolkit.access import AccessRule
from toolkit.errors import ToolkitError

ROOT = Path(__file__).resolve().parent.parent
CATALOG_FILE = ROOT / "catalog.yaml"
NAME = re.compile(r"^[a-z][a-z0-9-]{1,40}$")


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
    # use every route): caller name -> routes (toolkit/access.parse_routes).
    callers: dict[str, tuple[AccessRule, ...]] = field(default_factory=dict)
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


def _problem(where: str, what: str) -> ToolkitError:
    return ToolkitError(f"{CATALOG_FILE.name}: {where}: {what}", "fix catalog.yaml and retry")


def _budgets(where: str, raw: object) -> dict[str, Budget]:
    if not isinstance(raw, dict):
        raise _problem(where, "budgets must be a mapping of measure: {seed, target}")
    budgets = {}
    for measure, value in raw.items():
        if not isinstance(value, dict) or set(value) - {"seed", "target"}:
            raise _problem(f"{where}.budgets.{measure}", "expected {seed: number, target: number}")
        budgets[measure] = Budget(value.get("seed"), value.get("target"))
    return budgets


def _access(where: str, raw: dict) -> tuple[AccessRule, ...]:
    """A public service's rules; required there, so a new one never defaults to open."""
    if not raw.get("public", False):
        if "access" in raw:
            raise _problem(
                where, "only public services have access rules (the gateway routes them)"
            )
        return ()
    if "access" not in raw:
        raise _problem(
            where, "a public service needs an `access` list (`[]`: any user, everything)"
        )
    try:
        return access.parse(raw["access"])
    except access.RuleError as exc:
        raise _problem(f"{where}.access{exc.where}", exc.what) from None


def _callers(where: str, raw: dict) -> dict[str, tuple[AccessRule, ...]]:
    """`callers: {caller: [routes]}`: the routes those internal callers are held to."""
    given = raw.get("callers", {})
    if not isinstance(given, dict):
        raise _problem(f"{where}.callers", "expected a mapping: caller -> [{methods?, path}]")
    callers = {}
    for name, routes in given.items():
        try:
            callers[str(name)] = access.parse_routes(routes)
        except access.RuleError as exc:
            raise _problem(f"{where}.callers.{name}{exc.where}", exc.what) from None
    return callers


def parse(data: object) -> Catalog:
    """Validate the raw YAML and build the catalog; every problem names its place."""
    if not isinstance(data, dict):
        raise _problem("top level", "expected a mapping")
    for key in ("python", "profiles", "tiers", "infrastructure", "services"):
        if key not in data:
            raise _problem("top level", f"missing key {key!r}")
    tiers = {int(k): str(v) for k, v in data["tiers"].items()}
    profiles = {str(k): int(v) for k, v in data["profiles"].items()}
    for name, max_tier in profiles.items():
        if max_tier not in tiers:
            raise _problem(f"profiles.{name}", f"tier {max_tier} is not in tiers")
    infrastructure = {}
    for name, raw in data["infrastructure"].items():
        try:
            infrastructure[name] = Infrastructure(name, str(raw["image"]), int(raw["port"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise _problem(f"infrastructure.{name}", f"needs image and port ({exc})") from None
    services: dict[str, Service] = {}
    ports: dict[int, str] = {}
    known = {
        "tier",
        "port",
        "health",
        "public",
        "publish",
        "depends_on",
        "uses",
        "infrastructure",
        "tuning",
        "budgets",
        "access",
        "callers",
    }
    for name, raw in data["services"].items():
        where = f"services.{name}"
        if not NAME.match(str(name)):
            raise _problem(where, "a service name is lower-case letters, digits and dashes")
        if not isinstance(raw, dict):
            raise _problem(where, "expected a mapping")
        for key in ("tier", "port", "health"):
            if key not in raw:
                raise _problem(where, f"missing key {key!r}")
        if raw["tier"] not in tiers:
            raise _problem(where, f"tier {raw['tier']} is not one of {sorted(tiers)}")
        try:
            port = int(raw["port"])
            tier = int(raw["tier"])
            tuning = {str(k): int(v) for k, v in raw.get("tuning", {}).items()}
        except (TypeError, ValueError, AttributeError):
            raise _problem(where, "port, tier and tuning values must be integers") from None
        if not 1 <= port <= 65535:
            raise _problem(where, f"port {port} is outside 1-65535")
        if port in ports:
            raise _problem(where, f"port {port} is already used by {ports[port]}")
        ports[port] = name
        for infra in raw.get("infrastructure", []):
            if infra not in infrastructure:
                raise _problem(where, f"unknown infrastructure {infra!r}")
        services[name] = Service(
            name=name,
            tier=tier,
            port=port,
            health=str(raw["health"]),
            public=bool(raw.get("public", False)),
            publish=bool(raw.get("publish", raw.get("gateway", False))),
            depends_on=tuple(raw.get("depends_on", [])),
            uses=tuple(raw.get("uses", [])),
            infrastructure=tuple(raw.get("infrastructure", [])),
            tuning=tuning,
            budgets=_budgets(where, raw.get("budgets", {})),
            access=_access(where, raw),
            callers=_callers(where, raw),
            extra={k: v for k, v in raw.items() if k not in known},
        )
    for service in services.values():
        for dep in service.depends_on:
            if dep not in services:
                raise _problem(f"services.{service.name}", f"depends on unknown service {dep!r}")
            if services[dep].tier > service.tier:
                raise _problem(
                    f"services.{service.name}",
                    f"depends on {dep} (tier {services[dep].tier}), a heavier tier than its own",
                )
        for used in service.uses:
            if used not in services:
                raise _problem(f"services.{service.name}", f"uses unknown service {used!r}")
            if used == service.name:
                raise _problem(f"services.{service.name}", "a service cannot use itself")
            if used in service.depends_on:
                raise _problem(
                    f"services.{service.name}",
                    f"{used} is in both depends_on and uses: a service needs it or can do without",
                )
    _reject_cycles(services)
    catalog = Catalog(str(data["python"]), profiles, tiers, infrastructure, services)
    for service in services.values():
        allowed = catalog.callers_of(service)
        for caller in service.callers:
            if caller not in allowed:
                raise _problem(
                    f"services.{service.name}.callers.{caller}",
                    f"{caller} does not call {service.name} (its callers, from depends_on, "
                    f"uses and the gateway: {', '.join(allowed) or 'none'})",
                )
    profile_budgets = {}
    for profile, raw in (data.get("profile_budgets") or {}).items():
        if profile not in profiles:
            raise _problem(f"profile_budgets.{profile}", f"not a profile ({', '.join(profiles)})")
        profile_budgets[profile] = _budgets(f"profile_budgets.{profile}", raw)
    return Catalog(str(data["python"]), profiles, tiers, infrastructure, services, profile_budgets)


def _reject_cycles(services: dict[str, Service]) -> None:
    """Compose refuses a dependency cycle; say where it is instead."""
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        if name in path:
            cycle = " -> ".join([*path[path.index(name) :], name])
            raise _problem(f"services.{path[0]}", f"dependency cycle: {cycle}")
        if name in done:
            return
        for dep in services[name].depends_on:
            visit(dep, [*path, name])
        done.add(name)

    for name in services:
        visit(name, [])


@functools.cache
def load(path: Path = CATALOG_FILE) -> Catalog:
    """Read and validate catalog.yaml (once per process)."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ToolkitError(f"{path} not found", "run the toolkit from the repository") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ToolkitError(f"{path.name} is not valid YAML: {exc}", "fix the syntax") from None
    return parse(data)
