"""The catalog's typed models (pydantic): what catalog.yaml may hold, declared once.

toolkit/catalog.py validates the YAML with `CatalogModel`, checks what no single field can
(dependencies, ports, tiers, callers) and builds its own read-only `Catalog` from the result.
Every model forbids unknown keys, so a typo is an error instead of a silently ignored field;
`strict` keeps YAML's types (a quoted "8000" is not a port, `yes` is not a string). The JSON
Schema editors read (catalog.schema.json) is generated from the same models.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainValidator, WithJsonSchema

from toolkit.access import Route, Rule

NAME = re.compile(r"^[a-z][a-z0-9-]{1,40}$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# The secrets a service may list (`secrets: [...]`); toolkit/render.py's SECRET_ENV says
# which variables each one becomes (tests/test_catalog.py keeps the two in step).
SECRETS = ("jwt", "admin")
# The keys a service entry may hold beyond the typed attributes of catalog.Service: they are
# kept, as written, in `Service.extra` (render reads them there).
EXTRA_KEYS = ("gateway", "secrets", "env", "test_env", "limits", "state", "replicas")


def _name(name: str) -> str:
    if not NAME.match(name):
        raise ValueError("a service name is lower-case letters, digits and dashes (2-41)")
    return name


def _env_name(name: str) -> str:
    if not ENV_NAME.match(name):
        raise ValueError(f"{name!r} is not a variable name (letters, digits, underscores)")
    return name


def _scalar(value: object) -> object:
    if not isinstance(value, str | int | float | bool):
        raise ValueError("an environment value is a string, number or boolean")
    return value


ServiceName = Annotated[
    str, AfterValidator(_name), WithJsonSchema({"type": "string", "pattern": NAME.pattern})
]
EnvName = Annotated[
    str, AfterValidator(_env_name), WithJsonSchema({"type": "string", "pattern": ENV_NAME.pattern})
]
EnvValue = Annotated[
    Any, PlainValidator(_scalar), WithJsonSchema({"type": ["string", "number", "boolean"]})
]
# A mapping whose keys must match its patternProperties (editors flag the others).
CLOSED: Any = {"json_schema_extra": {"additionalProperties": False}}
Port = Annotated[int, Field(ge=1, le=65535)]
Count = Annotated[int, Field(ge=1)]
Figure = Annotated[float, Field(ge=0)]


def absent(description: str, **constraints: object) -> Any:
    """An optional key that, when written, must hold a value (null is not one)."""
    return Field(None, description=description, **constraints)


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Budget(Model):
    """A measure's figures: `seed` is what the seed document claims, `target` is ours."""

    seed: Figure | None = None
    target: Figure | None = None


class ServiceBudgets(Model):
    """The measures the benchmark report compares (seconds and megabytes)."""

    build_seconds: Budget = absent("cold build from the wheelhouse")
    build_online_seconds: Budget = absent("cold build from the online index")
    warm_seconds: Budget = absent("rebuild with nothing changed")
    source_change_seconds: Budget = absent("rebuild after a one-line source change")
    image_mb: Budget = absent("image size")
    start_seconds: Budget = absent("container start to healthy")
    latency_p50_ms: Budget = absent("median request latency")


class ProfileBudgets(Model):
    start_seconds: Budget = absent("`inv up` to every service healthy")


class Tuning(Model):
    """Processes and threads (baked into the Dockerfile); the rest reach the service as
    upper-case environment variables (pool_max -> POOL_MAX)."""

    workers: Count = absent("server processes (default 1)")
    threads: Count = absent("threads per process: OMP/BLAS and the pool (default 1)")
    pool_max: Count = absent("database connection pool size (POOL_MAX)")
    max_workflows: Count = absent("concurrent workflows (MAX_WORKFLOWS)")


class Limits(Model):
    """compose mem_limit / pids_limit (toolkit/render.py DEFAULT_LIMITS when absent)."""

    memory_mb: Count = absent("mem_limit in megabytes")
    pids: Count = absent("pids_limit")


class Infrastructure(Model):
    image: str = Field(description="the image under images/ (toolkit/images.py)")
    port: Port


class Service(Model):
    tier: int = Field(description="a key of `tiers`; profiles run every tier up to theirs")
    port: Port
    health: str = Field(pattern=r"^/", description="the health route, e.g. /health")
    public: bool = Field(False, description="routed by the gateway at /api/<name>/...")
    publish: bool = absent("its port on the host's 127.0.0.1 (default: the gateway's alone)")
    gateway: bool = Field(False, description="the public entry point")
    depends_on: list[str] = Field(
        default_factory=list, description="started first (each waits for what it needs itself)"
    )
    uses: list[str] = Field(default_factory=list, description="called when running, optional")
    infrastructure: list[str] = Field(default_factory=list, description="keys of infrastructure")
    secrets: list[Literal[SECRETS]] = Field(default_factory=list)  # type: ignore[valid-type]
    env: dict[EnvName, EnvValue] = Field(
        default_factory=dict, description="its environment", **CLOSED
    )
    test_env: dict[EnvName, EnvValue] = Field(
        default_factory=dict, description="in tests", **CLOSED
    )
    state: bool = Field(False, description="a named volume outlives the container")
    replicas: int = Field(
        1, ge=1, description="tasks on a swarm (`inv deploy`); more than 1 only without state"
    )
    tuning: Tuning = Field(default_factory=Tuning)
    limits: Limits = Field(default_factory=Limits)
    budgets: ServiceBudgets = Field(default_factory=ServiceBudgets)
    access: list[Rule] = absent("who may call what through the gateway (public services)")
    callers: dict[str, list[Route]] = Field(
        default_factory=dict, description="caller -> the routes its credential may use"
    )


class CatalogModel(Model):
    """catalog.yaml: every service described once; everything else derived from it."""

    python: str = Field(pattern=r"^3\.\d+$", description='the services\' Python, e.g. "3.11"')
    profiles: dict[str, int] = Field(description="profile -> max_tier (cumulative)")
    profile_budgets: dict[str, ProfileBudgets] = Field(default_factory=dict)
    tiers: dict[int, str] = Field(description="tier number -> label")
    infrastructure: dict[str, Infrastructure]
    services: dict[ServiceName, Service] = Field(**CLOSED)


def json_schema() -> dict:
    """The JSON Schema of catalog.yaml, for editors (catalog.schema.json)."""
    schema = CatalogModel.model_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **schema,
        "title": "catalog.yaml",
    }


def _unwrap(annotation: Any) -> Any:
    while True:
        if get_origin(annotation) is Annotated:
            annotation = get_args(annotation)[0]
        elif get_origin(annotation) is Union:
            annotation = next(a for a in get_args(annotation) if a is not type(None))
        else:
            return annotation


def keys_at(loc: tuple) -> list[str]:
    """The keys the model allows at a place (`loc`, as pydantic gives it), for suggestions."""
    annotation: Any = CatalogModel
    for part in loc:
        annotation = _unwrap(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            if part not in annotation.model_fields:
                return []
            annotation = annotation.model_fields[part].annotation
        elif get_origin(annotation) in (dict, list):
            annotation = get_args(annotation)[-1]
        else:
            return []
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return list(annotation.model_fields)
    return []


# ---- problems: where (a path in the data), what, and the position of the key or value -------

Position = tuple[int, int]


@dataclass(frozen=True)
class Problem:
    where: tuple  # the path named in the message ("services.user-service")
    what: str
    at: tuple | None = None  # the node whose position is given (default: `where`)
    key: bool = False  # the position of its key rather than its value
    pos: tuple[int, int] | None = None  # where no node of the data says it (duplicate keys)


def suggest(word: object, choices: list[str] | tuple[str, ...], listing: str) -> str:
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    if close:
        return f" (did you mean {close[0]!r}?)"
    return f" ({listing}: {', '.join(map(str, choices))})" if choices else ""


def _describe(value: object) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the string {value!r}"
    return {list: "a list", dict: "a mapping"}.get(type(value), type(value).__name__)


EXPECTED = {
    "int_type": "an integer",
    "float_type": "a number",
    "string_type": "a string",
    "bool_type": "true or false",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "list_type": "a list",
}
PATTERNS = {r"^/": "must start with '/'", r"^3\.\d+$": 'must be a Python version such as "3.11"'}


def translate(error: dict) -> Problem:
    """A pydantic error as the catalog's problem: what is wrong, in the catalog's words."""
    loc, kind, value = tuple(error["loc"]), error["type"], error.get("input")
    ctx = error.get("ctx") or {}
    at_key = bool(loc) and loc[-1] == "[key]"
    loc = loc[:-1] if at_key else loc
    if kind == "extra_forbidden":
        what = f"unknown key {loc[-1]!r}" + suggest(loc[-1], keys_at(loc[:-1]), "the keys here")
        return Problem(loc[:-1], what, at=loc, key=True)
    if kind == "missing":
        return Problem(loc[:-1], f"missing key {loc[-1]!r}", key=True)
    if kind == "literal_error":
        choices = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        noun = next((str(p) for p in reversed(loc) if isinstance(p, str)), "value").rstrip("s")
        what = f"unknown {noun} {value!r}" + suggest(value, choices, f"the {noun}s are")
        if "did you mean" in what:
            what += f"; the {noun}s are: {', '.join(choices)}"
        return Problem(loc, what)
    if kind == "value_error":
        return Problem(loc, str(ctx.get("error", error["msg"])), key=at_key)
    if kind == "string_pattern_mismatch" and ctx.get("pattern") in PATTERNS:
        return Problem(loc, f"{value!r} {PATTERNS[ctx['pattern']]}")
    if kind in EXPECTED:
        what = f"expected {EXPECTED[kind]}, got {_describe(value)}"
        if kind == "string_type" and isinstance(value, int | float) and not isinstance(value, bool):
            what += f' (quote it: "{value}")'
        return Problem(loc, what, key=at_key)
    return Problem(loc, f"{error['msg'].replace('Input should be', 'expected')}, got {value!r}")
