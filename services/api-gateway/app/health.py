"""Health checks: Redis is critical; an upstream that is down only degrades the gateway.

They run in servicekit's background checker like every service's, so however often the
gateway's /health is read, each upstream's /health is asked once per interval per worker (and
answers from its own last round)."""

import httpx

from app.core.clients import Clients
from servicekit.health import Check

# Below servicekit's 2 s per-check limit, so a hanging upstream is reported with its reason.
UPSTREAM_HEALTH_TIMEOUT = 1.5


def redis_check(clients: Clients) -> Check:
    async def check() -> None:
        await clients.redis.ping()

    return check


def upstream_check(clients: Clients, base_url: str) -> Check:
    async def check() -> str | None:
        try:
            response = await clients.http.get(f"{base_url}/health", timeout=UPSTREAM_HEALTH_TIMEOUT)
        except httpx.HTTPError as exc:
            return f"unreachable: {type(exc).__name__}: {exc}"[:300]
        if response.status_code != 200:
            return f"/health answered {response.status_code}"
        try:
            reported = response.json().get("status", "ok")
        except (ValueError, AttributeError):
            return None
        return None if reported == "ok" else f"reports {reported}"

    return check


def health_checks(clients: Clients) -> dict[str, Check]:
    checks = {"redis": redis_check(clients)}
    for name, url in clients.settings.upstreams.items():
        checks[name] = upstream_check(clients, url)
    return checks
