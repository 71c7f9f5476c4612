"""Roles on public routes: which role a request needs (ACCESS_RULES), refused with 403 before
any upstream is called when the caller's token does not carry it."""

from fastapi import HTTPException, status

from app.core.config import AccessRule, Settings
from app.core.security import DEFAULT_ROLE, ROLES, Identity
from servicekit.internal import rule_matches

# Longest path a refusal repeats (it is the client's own input).
MAX_DETAIL_PATH = 200


def needed_role(rules: list[AccessRule], method: str, path: str) -> str:
    """The role of the first rule matching `method` and the service-relative `path` (HEAD
    counts as GET: Starlette answers HEAD on every GET route)."""
    for rule in rules:
        if rule_matches(rule.methods, rule.path, method, path):
            return rule.role
    return DEFAULT_ROLE


def service_path(path: str) -> str:
    """/api/<service>/x/y -> /x/y: decoded, as the upstream's router will read it."""
    return "/" + "/".join(path.split("/")[3:])


def require_role(settings: Settings, service: str, method: str, path: str, who: Identity) -> None:
    """403 naming the role needed when `who` lacks it; `path` is the request's decoded one."""
    relative = service_path(path)
    needed = needed_role(settings.access_rules.get(service, []), method, relative)
    if ROLES.index(who.role) < ROLES.index(needed):
        shown = relative if len(relative) <= MAX_DETAIL_PATH else relative[:MAX_DETAIL_PATH] + "..."
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail=f"{method} {shown} on {service} needs the {needed} role",
        )
