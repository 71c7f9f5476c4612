"""Internal credentials: every call between services says who is calling, and proves it.

A caller presents `X-Internal-Token: <its name>:<its secret>` (its own INTERNAL_TOKEN, one per
service, made by `inv env`). A callee holds, in INTERNAL_CALLERS, only what the catalog lets
call it: each caller's name, the sha256 of its secret (never the secret: a callee that leaks
its environment cannot pass itself off as its callers) and, where the catalog narrows it, the
routes that caller may use:

    {"api-gateway": {"sha256": "<hex>"},
     "data-bridge": {"sha256": "<hex>", "routes": [{"methods": ["POST"], "path": "/market/ticks"}]}}

`InternalAuth` answers 401 to a request without a valid credential and 403 to a caller outside
its routes, before routing, body parsing or anything else runs; only GET/HEAD of `/health` and
`/health/live` pass without one (Docker's health check and liveness probes). The caller's name
is left in `scope["state"]["internal_caller"]`, so a service can trust what a given caller
vouches for (user-service believes X-Real-IP from api-gateway alone).

Route rules share the gateway's grammar (catalog `access:`, toolkit/access.py): a rule matches
when it lists the method (none listed: every method; HEAD counts as GET) and its path is a
prefix of the request's, segment by segment (`*` is any one segment).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from servicekit.middleware import send_json

HEADER = b"x-internal-token"
# Open to anyone who can reach the port: whether the process lives and how its backends are.
OPEN_PATHS = frozenset({"/health", "/health/live"})
OPEN_METHODS = frozenset({"GET", "HEAD"})
DIGEST = re.compile(r"^[0-9a-f]{64}$")
# Longest path a refusal repeats (it is the caller's own input).
MAX_DETAIL_PATH = 200


def digest(secret: str) -> str:
    """The sha256 a callee keeps of a caller's secret (hex)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def credential(name: str, secret: str) -> str:
    """What a caller presents: its name and secret."""
    return f"{name}:{secret}"


def segments(path: str) -> list[str]:
    return [segment for segment in path.split("/") if segment]


def rule_matches(methods: Iterable[str], prefix: str, method: str, path: str) -> bool:
    """Whether a rule `{methods, path: prefix}` covers `method` on `path` (see the module)."""
    methods = tuple(methods)
    alias = "GET" if method == "HEAD" else method
    if methods and method not in methods and alias not in methods:
        return False
    wanted, given = segments(prefix), segments(path)
    if len(wanted) > len(given):
        return False
    return all(w in ("*", g) for w, g in zip(wanted, given[: len(wanted)], strict=True))


@dataclass(frozen=True)
class Route:
    methods: tuple[str, ...]
    path: str


@dataclass(frozen=True)
class Caller:
    name: str
    sha256: bytes
    routes: tuple[Route, ...] | None  # None: every route

    def allows(self, method: str, path: str) -> bool:
        if self.routes is None:
            return True
        return any(rule_matches(r.methods, r.path, method, path) for r in self.routes)


def parse_callers(raw: Mapping[str, Any]) -> dict[str, Caller]:
    """INTERNAL_CALLERS as read from the environment; ValueError names what is wrong."""
    callers = {}
    for name, entry in raw.items():
        if not isinstance(entry, Mapping):
            raise ValueError(f"INTERNAL_CALLERS[{name!r}] must be an object with a sha256")
        hexdigest = str(entry.get("sha256", ""))
        if not DIGEST.match(hexdigest):
            raise ValueError(
                f"INTERNAL_CALLERS[{name!r}].sha256 must be 64 lower-case hex digits "
                "(the env file's INTERNAL_TOKEN_SHA256_* values: run `inv env`)"
            )
        routes = None
        if "routes" in entry:
            routes = tuple(
                Route(tuple(m.upper() for m in r.get("methods", [])), str(r["path"]))
                for r in entry["routes"]
            )
        callers[name] = Caller(name, bytes.fromhex(hexdigest), routes)
    return callers


def identify(callers: Mapping[str, Caller], presented: bytes) -> Caller | None:
    """The caller a credential proves, or None."""
    name, sep, secret = presented.partition(b":")
    caller = callers.get(name.decode("latin-1")) if sep else None
    if caller is None:
        # Hash anyway: a wrong name costs what a wrong secret costs.
        hashlib.sha256(secret).digest()
        return None
    return caller if hmac.compare_digest(hashlib.sha256(secret).digest(), caller.sha256) else None


class InternalAuth:
    """Pure ASGI: refuse HTTP requests and WebSocket handshakes without a valid credential."""

    def __init__(self, app: ASGIApp, callers: Mapping[str, Caller], service: str) -> None:
        self.app = app
        self.callers = dict(callers)
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        method = scope.get("method", "GET") if kind == "http" else "GET"
        path = scope.get("path", "")
        if path in OPEN_PATHS and method in OPEN_METHODS:
            await self.app(scope, receive, send)
            return
        presented = next((v for k, v in scope["headers"] if k == HEADER), b"")
        caller = identify(self.callers, presented) if presented else None
        if caller is None:
            await self._refuse(kind, receive, send, 401, "missing or invalid internal credential")
            return
        if not caller.allows(method, path):
            shown = path if len(path) <= MAX_DETAIL_PATH else path[:MAX_DETAIL_PATH] + "..."
            detail = f"{caller.name} may not call {method} {shown} on {self.service}"
            await self._refuse(kind, receive, send, 403, detail)
            return
        scope.setdefault("state", {})["internal_caller"] = caller.name
        await self.app(scope, receive, send)

    @staticmethod
    async def _refuse(kind: str, receive: Receive, send: Send, status: int, detail: str) -> None:
        if kind == "http":
            await send_json(send, status, {"detail": detail})
            return
        # A WebSocket handshake refused before accept: the client sees an HTTP error (403 by
        # the ASGI servers: the spec's denial response is an extension not all of them offer).
        message = await receive()
        if message["type"] == "websocket.connect":
            await send({"type": "websocket.close", "code": 1008, "reason": detail[:120]})


def caller_of(scope: Mapping[str, Any]) -> str | None:
    """The internal caller a request's credential proved (None on the open health routes)."""
    return scope.get("state", {}).get("internal_caller")
