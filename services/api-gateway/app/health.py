"""Health checks: Redis is critical; an upstream that is down only degrades the gateway.

They run in servicekit's background checker like every service's, so however often the
gateway's /health is read, each upstream's /health is asked once per interval per worker (and
answers from its own last round)."""

import json
import os

import aiohttp

from app.core.clients import Clients
from servicekit.health import Check

# Below servicekit's 2 s per-check limit, so a hanging upstream is reported with its reason.
UPSTREAM_HEALTH_TIMEOUT = 1.5
TIMEOUT = aiohttp.ClientTimeout(total=UPSTREAM_HEALTH_TIMEOUT)


def redis_check(clients: Clients) -> Check:
    async def check() -> None:
        await clients.redis.ping()

    return check


def upstream_check(clients: Clients, base_url: str) -> Check:
    async def check() -> str | None:
        try:
            async with clients.http.get(f"{base_url}/health", timeout=TIMEOUT) as response:
                status, body = response.status, await response.read()
        except aiohttp.ClientConnectorError as exc:
            # Its message names the address, which /health must not show: the errno's words do
            # not ("Connection refused"); a name lookup's own ("Name or service not known").
            errno = exc.os_error.errno or 0
            why = os.strerror(errno) if errno > 0 else exc.os_error.strerror or "no connection"
            return f"unreachable: {type(exc).__name__}: {why}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            return f"unreachable: {type(exc).__name__}: {exc}"[:300]
        if status != 200:
            return f"/health answered {status}"
        try:
            reported = json.loads(body).get("status", "ok")
        except (ValueError, AttributeError):
            return None
        return None if reported == "ok" else f"reports {reported}"

    return check


def health_checks(clients: Clients) -> dict[str, Check]:
    checks = {"redis": redis_check(clients)}
    for name, url in clients.settings.upstreams.items():
        checks[name] = upstream_check(clients, url)
    return checks
