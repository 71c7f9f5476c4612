"""Access rules: which role may call which routes of a public service through the gateway.

Written once, as each public service's `access:` list in catalog.yaml, and handed to the
gateway as ACCESS_RULES (JSON). A rule is `{methods?: [...], path: /prefix, role: user|admin}`:
it matches a request whose method it lists (none listed: every method) and whose
service-relative path starts with its path, segment by segment (`*` stands for any one
segment). The first matching rule names the role needed; anything unmatched needs `user`, and
`admin` may do everything `user` may. A caller's routes under `callers:` are the same rules
without a role. Both are validated as typed models (`Rule`, `Route`) with the rest of the
catalog (toolkit/catalog_models.py); `AccessRule` is what the toolkit reads afterwards.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema

ROLES = ("user", "admin")  # least privileged first
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
SEGMENT = re.compile(r"^(\*|[A-Za-z0-9._~-]+)$")


@dataclass(frozen=True)
class AccessRule:
    methods: tuple[str, ...]  # empty: every method
    path: str
    role: str

    def as_json(self) -> dict:
        """The rule as the gateway reads it (ACCESS_RULES)."""
        rule: dict = {"methods": list(self.methods)} if self.methods else {}
        return {**rule, "path": self.path, "role": self.role}


def _method(method: str) -> str:
    if method.upper() not in METHODS:
        raise ValueError(f"unknown method {method!r} (one of {', '.join(METHODS)})")
    return method.upper()


def _path(path: str) -> str:
    if not path.startswith("/"):
        raise ValueError(f"path must start with '/' (the service's own path), got {path!r}")
    segments = [s for s in path.split("/") if s]
    if not all(SEGMENT.match(s) for s in segments):
        raise ValueError(f"path {path!r}: segments are [A-Za-z0-9._~-] or a lone '*'")
    return "/" + "/".join(segments)


Method = Annotated[
    str,
    AfterValidator(_method),
    WithJsonSchema({"type": "string", "enum": [*METHODS, *(m.lower() for m in METHODS)]}),
]
RoutePath = Annotated[
    str,
    AfterValidator(_path),
    WithJsonSchema({"type": "string", "pattern": r"^/", "description": "/prefix, `*`: a segment"}),
]


class Route(BaseModel):
    """A route: `{methods?: [POST, ...], path: /prefix}` (no methods: every method)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    methods: list[Method] = Field(default_factory=list, description="none: every method")
    path: RoutePath

    def rule(self, role: str = "user") -> AccessRule:
        return AccessRule(tuple(dict.fromkeys(self.methods)), self.path, role)


class Rule(Route):
    """An access rule: a route and the role it needs."""

    role: Literal["user", "admin"] = Field(description="`admin` may do all `user` may")

    def rule(self, role: str = "") -> AccessRule:
        return super().rule(self.role)


def route_json(rule: AccessRule) -> dict:
    """A route as a callee reads it (INTERNAL_CALLERS): methods and path, no role."""
    return {k: v for k, v in rule.as_json().items() if k != "role"}
