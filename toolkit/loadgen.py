"""Bounded HTTP load on the gateway, and the scenarios the benchmark runs through it.

Closed-loop load: each of `concurrency` workers sends its next request when the previous one is
answered. Load goes only to the gateway on 127.0.0.1, is bounded in concurrency, requests and
time, and stops by itself. Routes the gateway rate-limits are kept within a share of that limit
per minute window (`RateBudget`), which bounds how long they can run flat out. Figures are
reported, never asserted.
"""

from __future__ import annotations

import asyncio
import collections
import math
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from toolkit import envfile
from toolkit.catalog import Catalog
from toolkit.errors import ToolkitError

GATEWAY = "api-gateway"
LOOPBACK = "127.0.0.1"
GATEWAY_URL = f"http://{LOOPBACK}:8000"
# The gateway counts requests per client address in fixed one-minute windows, and every
# request from this host reaches it from the same address (Docker's proxy): e2e tests and
# colleagues share the budget, so the benchmark keeps to this share of it.
RATE_LIMIT_SHARE = 0.8
RATE_WINDOW_SECONDS = 60
# user-service allows 30 login attempts per client address per 5 minutes, and that address is
# the same for every caller on this host: the login scenario takes a few, the set-up one more.
LOGIN_REQUESTS = 8
LOGIN_CONCURRENCY = 2


# ---- bounded load on one scenario ------------------------------------------------------------


class RateBudget:
    """Keep requests within `per_minute` as the gateway counts them: per client address, in
    fixed windows of the wall clock (time.time() // 60), 429s included.

    Within a window requests go as fast as the load allows (so throughput is measured, not
    imposed); once a window's budget is spent the next request waits for the next window, and
    a scenario whose deadline comes first ends there. One budget is shared by every scenario
    and set-up request of a run, since the gateway counts them all against the same address.
    """

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.time) -> None:
        if per_minute < 1:
            raise ValueError("per_minute must be at least 1")
        self.per_minute = per_minute
        self.clock = clock
        self._windows: collections.Counter[int] = collections.Counter()

    def reserve(self) -> float:
        """Count one request and return the clock time at which it may be sent."""
        slot = self.clock()
        while self._windows[int(slot // RATE_WINDOW_SECONDS)] >= self.per_minute:
            slot = (int(slot // RATE_WINDOW_SECONDS) + 1) * RATE_WINDOW_SECONDS
        self._windows[int(slot // RATE_WINDOW_SECONDS)] += 1
        return slot

    def spent(self, at: float | None = None) -> int:
        """Requests counted in the window of `at` (now by default)."""
        return self._windows[int((self.clock() if at is None else at) // RATE_WINDOW_SECONDS)]

    async def acquire(self) -> None:
        delay = self.reserve() - self.clock()
        if delay > 0:
            await asyncio.sleep(delay)


def gateway_rate_limit(catalog: Catalog) -> int:
    """RATE_LIMIT_PER_MINUTE the gateway runs with (compose sets it from the catalog)."""
    env = catalog.service(GATEWAY).extra.get("env", {})
    return int(env.get("RATE_LIMIT_PER_MINUTE", 1200))  # 1200: the gateway's own default


@dataclass(frozen=True)
class Scenario:
    """One kind of request; `limited` when the gateway counts it against the rate limit
    (everything under /auth and /api; /health is not)."""

    name: str
    method: str
    path: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: dict | None = None
    limited: bool = True


def percentile(ordered: list[float], q: float) -> float:
    """The q-th percentile (0-100) of sorted values, interpolating between neighbours."""
    if not ordered:
        raise ValueError("no values")
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass
class Tally:
    """What one measured phase of a scenario saw."""

    ok_seconds: list[float] = field(default_factory=list)
    statuses: collections.Counter = field(default_factory=collections.Counter)
    exceptions: collections.Counter = field(default_factory=collections.Counter)
    issued: int = 0
    budget_spent: bool = False

    def figures(self, seconds: float, concurrency: int) -> dict:
        """The latency.http entry: percentiles of the 2xx answers, rps of 2xx answers."""
        ordered = sorted(self.ok_seconds)

        def ms(q: float) -> float | None:
            return round(percentile(ordered, q) * 1000, 3) if ordered else None

        non_2xx = sum(n for code, n in self.statuses.items() if not 200 <= code < 300)
        failed = sum(self.exceptions.values())
        return {
            "p50_ms": ms(50),
            "p95_ms": ms(95),
            "p99_ms": ms(99),
            "max_ms": round(ordered[-1] * 1000, 3) if ordered else None,
            "rps": round(len(ordered) / seconds, 1) if seconds > 0 else 0.0,
            "requests": sum(self.statuses.values()) + failed,
            "ok": len(ordered),
            "errors": non_2xx + failed,
            "non_2xx": non_2xx,
            "exceptions": failed,
            "statuses": {str(code): n for code, n in sorted(self.statuses.items())},
            "exception_types": dict(self.exceptions),
            "concurrency": concurrency,
            "seconds": round(seconds, 3),
            "stopped_by_rate_budget": self.budget_spent,
        }


def check_loopback(base_url: str) -> None:
    if urlsplit(base_url).hostname != LOOPBACK:
        raise ToolkitError(
            f"load goes to {LOOPBACK} only, not {base_url}",
            f"use the gateway at {GATEWAY_URL}",
        )


async def _phase(
    client: httpx.AsyncClient,
    scenario: Scenario,
    *,
    concurrency: int,
    seconds: float,
    max_requests: int,
    budget: RateBudget | None,
    request_timeout: float,
    on_response: Callable[[httpx.Response], None] | None,
) -> tuple[Tally, float]:
    """Run `concurrency` workers until `seconds` pass or `max_requests` are sent (or the rate
    budget is spent until past the deadline); returns what they saw and the seconds it took."""
    tally = Tally()
    deadline = time.monotonic() + seconds
    paced = budget if scenario.limited else None
    in_flight = 0

    async def worker() -> None:
        nonlocal in_flight
        while time.monotonic() < deadline and tally.issued < max_requests:
            tally.issued += 1  # counted before any wait, so workers never overshoot the bound
            if paced is not None:
                delay = paced.reserve() - paced.clock()
                if time.monotonic() + delay >= deadline:
                    tally.issued -= 1
                    tally.budget_spent = True
                    return
                if delay > 0:
                    await asyncio.sleep(delay)
            in_flight += 1
            sent = time.perf_counter()
            try:
                response = await client.request(
                    scenario.method,
                    scenario.path,
                    headers=dict(scenario.headers),
                    json=scenario.body,
                )
            except httpx.HTTPError as exc:
                tally.exceptions[type(exc).__name__] += 1
                continue
            finally:
                in_flight -= 1
            took = time.perf_counter() - sent
            tally.statuses[response.status_code] += 1
            if 200 <= response.status_code < 300:
                tally.ok_seconds.append(took)
                if on_response is not None:
                    on_response(response)

    began = time.perf_counter()
    # Workers stop by themselves at the deadline; this only ends requests still in flight
    # well past it (each is bounded by the client timeout anyway).
    try:
        async with asyncio.timeout(seconds + request_timeout + 1):
            await asyncio.gather(*(worker() for _ in range(concurrency)))
    except TimeoutError:
        tally.exceptions["CancelledAtDeadline"] += in_flight
    return tally, time.perf_counter() - began


async def http_load(
    scenario: Scenario,
    *,
    concurrency: int = 16,
    seconds: float = 10.0,
    max_requests: int = 50_000,
    warmup_seconds: float = 2.0,
    warmup_requests: int = 200,
    budget: RateBudget | None = None,
    base_url: str = GATEWAY_URL,
    request_timeout: float = 10.0,
    on_response: Callable[[httpx.Response], None] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> dict:
    """Load one scenario on the gateway; the latency.http entry for it.

    Bounded three ways: at most `concurrency` requests in flight, `max_requests` sent and
    `seconds` of measuring (after a warm-up of at most `warmup_seconds` / `warmup_requests`,
    not counted). A limited scenario draws on `budget`, so a run never exceeds the gateway's
    rate limit on its own; 429s (someone else spending the budget) are reported as errors.
    Percentiles are over the 2xx answers; `errors` = `non_2xx` + `exceptions`.
    """
    check_loopback(base_url)
    if concurrency < 1 or max_requests < 1 or seconds <= 0:
        raise ToolkitError(
            f"bad load bounds (concurrency {concurrency}, requests {max_requests}, "
            f"seconds {seconds})",
            "each must be positive",
        )
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=base_url,
        timeout=request_timeout,
        limits=limits,
        trust_env=False,
        transport=transport,
    ) as client:
        common = {"budget": budget, "request_timeout": request_timeout, "on_response": on_response}
        if warmup_seconds > 0 and warmup_requests > 0:
            await _phase(
                client,
                scenario,
                concurrency=concurrency,
                seconds=warmup_seconds,
                max_requests=warmup_requests,
                **common,
            )
        cpu_before = time.process_time()
        tally, elapsed = await _phase(
            client,
            scenario,
            concurrency=concurrency,
            seconds=seconds,
            max_requests=max_requests,
            **common,
        )
        cpu = time.process_time() - cpu_before
    figures = tally.figures(elapsed, concurrency)
    # The load generator shares the host's CPUs with the stack: near 1.0 it is the bottleneck.
    figures["client_cpu_share"] = round(cpu / elapsed, 2) if elapsed > 0 else None
    if scenario.limited and budget is not None:
        figures["rate_budget_per_minute"] = budget.per_minute
    return figures


# ---- the gateway scenarios -------------------------------------------------------------------


@dataclass(frozen=True)
class BenchUser:
    username: str
    email: str
    password: str

    @classmethod
    def new(cls) -> BenchUser:
        """Unique per run; the password obeys user-service's policy."""
        name = f"bench_{secrets.token_hex(6)}"
        return cls(name, f"{name}@example.com", f"Bench-{secrets.token_hex(8)}-9")


async def _call(
    client: httpx.AsyncClient,
    budget: RateBudget,
    method: str,
    path: str,
    expected: int,
    **kwargs,
) -> httpx.Response:
    await budget.acquire()
    try:
        response = await client.request(method, path, **kwargs)
    except httpx.HTTPError as exc:
        raise ToolkitError(
            f"{method} {path} on the gateway failed: {type(exc).__name__}: {exc}",
            "is the core profile up? `inv up --profile core`",
        ) from None
    if response.status_code != expected:
        retry = response.headers.get("retry-after")
        raise ToolkitError(
            f"{method} {path} answered {response.status_code}: {response.text[:200]}",
            f"rate limited: retry in {retry} s" if retry else "see `inv logs user-service`",
        )
    return response


async def register_and_login(
    client: httpx.AsyncClient, budget: RateBudget, user: BenchUser
) -> dict:
    """Register `user` through the gateway and log it in; returns the tokens."""
    await _call(
        client,
        budget,
        "POST",
        "/auth/register",
        201,
        json={"username": user.username, "email": user.email, "password": user.password},
    )
    credentials = {"username": user.username, "password": user.password}
    return (await _call(client, budget, "POST", "/auth/login", 200, json=credentials)).json()


def admin_credentials(path: Path | None = None) -> dict[str, str]:
    """The first admin's login, from the env file (`inv env` writes it; user-service creates
    that account at its first start)."""
    path = path or envfile.ENV_FILE
    values = envfile.read(path)
    username, password = values.get("ADMIN_USERNAME"), values.get("ADMIN_PASSWORD")
    if not username or not password:
        raise ToolkitError(
            f"{path} has no ADMIN_USERNAME and ADMIN_PASSWORD",
            "run `inv env`, then `inv up` so user-service creates the admin",
        )
    return {"username": username, "password": password}


async def admin_login(
    client: httpx.AsyncClient, budget: RateBudget, path: Path | None = None
) -> dict:
    """Log the first admin in through the gateway; returns the tokens. Writes (ticks, replays,
    feeds, training) need the admin role; reads do not."""
    credentials = admin_credentials(path)
    await budget.acquire()
    try:
        response = await client.post("/auth/login", json=credentials)
    except httpx.HTTPError as exc:
        raise ToolkitError(
            f"the admin's login on the gateway failed: {type(exc).__name__}: {exc}",
            "is the core profile up? `inv up --profile core`",
        ) from None
    if response.status_code != 200:
        raise ToolkitError(
            f"logging in as {credentials['username']} answered {response.status_code}: "
            f"{response.text[:200]}",
            "user-service creates the admin at start with the env file's ADMIN_PASSWORD and "
            "never changes an existing account: recreate user-service after `inv env` "
            "(`inv up`); see `inv logs user-service`",
        )
    return response.json()


async def logout(client: httpx.AsyncClient, budget: RateBudget, tokens: list[str]) -> int:
    """End the benchmark's sessions; returns how many ended (failures only cost a leftover)."""
    ended = 0
    for token in tokens:
        await budget.acquire()
        try:
            response = await client.post(
                "/auth/logout", headers={"Authorization": f"Bearer {token}"}
            )
        except httpx.HTTPError:
            continue
        ended += response.status_code == 204
    return ended
