"""Access rules: which role may call which routes of a public service through the gateway.

Written once, as each public service's `access:` list in catalog.yaml, and handed to the
gateway as ACCESS_RULES (JSON). A rule is `{methods?: [...], path: /prefix, role: user|admin}`:
it matches a request whose method it lists (none listed: every method) and whose
service-relative path starts with its path, segment by segment (`*` stands for any one
segment). The first matching rule names the role needed; anything unmatched needs `user`, and
`admin` may do everything `user` may.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ROLES = ("user", "admin")  # least privileged first
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
KEYS = {"methods", "path", "role"}
ROUTE_KEYS = {"methods", "path"}
SEGMENT = re.compile(r"^(\*|[A-Za-z0-9._~-]+)$")


class RuleError(ValueError):
    """A rule the catalog must not hold; `where` is its place under the service's entry."""

    def __init__(self, where: str, what: str) -> None:
        super().__init__(what)
        self.where = where
        self.what = what


@dataclass(frozen=True)
class AccessRule:
    methods: tuple[str, ...]  # empty: every method
    path: str
    role: str

    def as_json(self) -> dict:
        """The rule as the gateway reads it (ACCESS_RULES)."""
        rule: dict = {"methods": list(self.methods)} if self.methods else {}
        return {**rule, "path": self.path, "role": self.role}


def _rule(where: str, raw: object, keys: set[str] = KEYS) -> AccessRule:
    if not isinstance(raw, dict):
        shape = ", role: ..." if "role" in keys else ""
        raise RuleError(where, f"a rule is a mapping {{methods: [...], path: /prefix{shape}}}")
    for key in raw:
        if key not in keys:
            raise RuleError(where, f"unknown key {key!r} (a rule has {', '.join(sorted(keys))})")
    methods = raw.get("methods", [])
    if not isinstance(methods, list) or not all(isinstance(m, str) for m in methods):
        raise RuleError(where, "methods must be a list such as [POST, DELETE]")
    for method in methods:
        if method.upper() not in METHODS:
            raise RuleError(where, f"unknown method {method!r} (one of {', '.join(METHODS)})")
    role = raw.get("role", "user" if "role" not in keys else None)
    if role not in ROLES:
        raise RuleError(where, f"unknown role {role!r} (one of {', '.join(ROLES)})")
    path = raw.get("path")
    if not isinstance(path, str) or not path.startswith("/"):
        raise RuleError(where, f"path must start with '/' (the service's own path), got {path!r}")
    segments = [s for s in path.split("/") if s]
    if not all(SEGMENT.match(s) for s in segments):
        raise RuleError(where, f"path {path!r}: segments are [A-Za-z0-9._~-] or a lone '*'")
    upper = tuple(dict.fromkeys(m.upper() for m in methods))
    return AccessRule(upper, "/" + "/".join(segments), role)


def parse(raw: object) -> tuple[AccessRule, ...]:
    """Validate a service's `access:` list; RuleError names the rule at fault."""
    if not isinstance(raw, list):
        raise RuleError(
            "", "expected a list of rules, e.g. [{methods: [POST], path: /x, role: admin}]"
        )
    return tuple(_rule(f"[{index}]", rule) for index, rule in enumerate(raw))


def parse_routes(raw: object) -> tuple[AccessRule, ...]:
    """A caller's routes under a service's `callers:` (the rules without a role): which
    requests that caller's internal credential may make (servicekit.internal)."""
    if not isinstance(raw, list):
        raise RuleError("", "expected a list of routes, e.g. [{methods: [POST], path: /x}]")
    return tuple(_rule(f"[{i}]", route, ROUTE_KEYS) for i, route in enumerate(raw))


def route_json(rule: AccessRule) -> dict:
    """A route as a callee reads it (INTERNAL_CALLERS): methods and path, no role."""
    return {k: v for k, v in rule.as_json().items() if k != "role"}
