"""HTTP latency through the gateway: each scenario under bounded load (toolkit.loadgen), the
users it needs registered first and logged out after; then, when wrk is installed, the routes
the gateway does not rate-limit under wrk too (toolkit/bench/measure/wrk.py). Every entry
names its `generator` and that generator's `ceiling_rps`: what it reached on GET /health/live
in the same run, so a figure near its ceiling reads as the generator's limit, not the
service's."""

from __future__ import annotations

import asyncio

import httpx

from toolkit.bench.measure import wrk
from toolkit.catalog import Catalog
from toolkit.console import console, step, table
from toolkit.errors import ToolkitError
from toolkit.loadgen import (
    GATEWAY_URL,
    LOGIN_CONCURRENCY,
    LOGIN_REQUESTS,
    RATE_LIMIT_SHARE,
    BenchUser,
    RateBudget,
    Scenario,
    check_loopback,
    gateway_rate_limit,
    http_load,
    logout,
    register_and_login,
)


async def gateway_scenarios(
    catalog: Catalog,
    *,
    concurrency: int = 16,
    seconds: float = 10.0,
    max_requests: int = 50_000,
    warmup_seconds: float = 2.0,
    login: bool = True,
    login_requests: int = LOGIN_REQUESTS,
    base_url: str = GATEWAY_URL,
    transport: httpx.AsyncBaseTransport | None = None,
) -> dict[str, dict]:
    """The latency.http section: every scenario through the gateway, one after the other.

    - health_live: GET /health/live, the gateway alone (not rate limited): the floor.
    - auth_me: GET /auth/me with a real token: gateway (rate limit and session in Redis, JWT)
      -> user-service (JWT, session and profile cache in Redis) -> database-service when the
      profile cache (60 s) is cold; within the rate budget.
    - auth_login: POST /auth/login with the right password, bcrypt at the production cost;
      few requests at low concurrency, as user-service allows 30 attempts per address per
      5 minutes (successful logins never count as account failures).

    A user is registered (unique name, `bench_<hex>`) and logged in first; its sessions are
    logged out at the end. The account itself stays: the data API has no delete.
    """
    check_loopback(base_url)
    budget = RateBudget(max(1, int(gateway_rate_limit(catalog) * RATE_LIMIT_SHARE)))
    user = BenchUser.new()
    sessions: list[str] = []
    section: dict[str, dict] = {}
    async with httpx.AsyncClient(
        base_url=base_url, timeout=30, trust_env=False, transport=transport
    ) as client:
        try:
            await client.get("/health/live")
        except httpx.HTTPError as exc:
            raise ToolkitError(
                f"the gateway does not answer on {base_url} ({type(exc).__name__})",
                "start the core profile: `inv up --profile core`",
            ) from None
        with step(f"register and log in {user.username} through the gateway"):
            tokens = await register_and_login(client, budget, user)
            credentials = {"username": user.username, "password": user.password}
            sessions.append(tokens["access_token"])
        try:
            bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
            plan = [
                (Scenario("health_live", "GET", "/health/live", limited=False), {}),
                (Scenario("auth_me", "GET", "/auth/me", headers=bearer), {}),
            ]
            if login:
                plan.append(
                    (
                        Scenario("auth_login", "POST", "/auth/login", body=credentials),
                        {
                            "concurrency": min(concurrency, LOGIN_CONCURRENCY),
                            "max_requests": login_requests,
                            "warmup_seconds": 0,
                            "on_response": lambda r: sessions.append(r.json()["access_token"]),
                        },
                    )
                )
            for scenario, overrides in plan:
                options = {
                    "concurrency": concurrency,
                    "seconds": seconds,
                    "max_requests": max_requests,
                    "warmup_seconds": warmup_seconds,
                    "budget": budget,
                    "base_url": base_url,
                    "transport": transport,
                    **overrides,
                }
                label = (
                    f"{scenario.method} {scenario.path}: {options['concurrency']} concurrent, "
                    f"{seconds:g}s or {options['max_requests']} requests"
                )
                with step(label) as note:
                    section[scenario.name] = await http_load(scenario, **options)
                    figures = section[scenario.name]
                    note["note"] = f"p50 {figures['p50_ms']} ms, {figures['rps']} rps"
        finally:
            await logout(client, budget, sessions)
    if transport is None:  # wrk reaches a real gateway only
        section.update(native_scenarios(base_url, concurrency=concurrency, seconds=seconds))
    mark_ceilings(section)
    _show_http(section)
    return section


# The routes wrk loads: the gateway rate-limits neither (wrk cannot keep within a budget).
NATIVE = {"wrk_health_live": "/health/live", "wrk_health": "/health"}


def native_scenarios(base_url: str, *, concurrency: int, seconds: float) -> dict[str, dict]:
    """NATIVE under wrk; nothing (and a note saying how to get it) when wrk is missing."""
    if wrk.binary() is None:
        console.print(f"note: no native load generator: {wrk.INSTALL} to measure with it too")
        return {}
    section = {}
    for name, path in NATIVE.items():
        with step(f"wrk GET {path}: {concurrency} connections, {max(1, round(seconds))}s") as note:
            section[name] = wrk.load(f"{base_url}{path}", concurrency=concurrency, seconds=seconds)
            figures = section[name]
            note["note"] = f"p50 {figures['p50_ms']} ms, {figures['rps']} rps"
    return section


def mark_ceilings(section: dict[str, dict]) -> None:
    """Name each entry's generator and its ceiling (its GET /health/live rps in this run)."""
    floors = {"python": section.get("health_live"), "wrk": section.get("wrk_health_live")}
    for figures in section.values():
        generator = figures.setdefault("generator", "python")
        floor = floors.get(generator)
        figures["ceiling_rps"] = floor["rps"] if floor else None


def latency_http(catalog: Catalog, **options) -> dict[str, dict]:
    """gateway_scenarios from synchronous code (nox, tasks)."""
    return asyncio.run(gateway_scenarios(catalog, **options))


def _show_http(section: dict[str, dict]) -> None:
    rows = [
        (
            name,
            f["p50_ms"],
            f["p95_ms"],
            f["p99_ms"],
            f["rps"],
            f["requests"],
            f"{f['non_2xx']} / {f['exceptions']}",
            f["concurrency"],
            f.get("rate_budget_per_minute", ""),
            f"{f.get('generator', 'python')} ({f.get('ceiling_rps')})",
        )
        for name, f in section.items()
    ]
    console.print(
        table(
            "HTTP through the gateway (127.0.0.1)",
            [
                "scenario",
                "p50 ms",
                "p95 ms",
                "p99 ms",
                "rps",
                "requests",
                "non-2xx / exc",
                "concurrency",
                "budget /min",
                "generator (ceiling rps)",
            ],
            rows,
        )
    )
