"""What every fault shares: the outcome, the tick load, the kill and the wait."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx

from toolkit import loadgen, stack
from toolkit.bench.measure import stream as bench_stream
from toolkit.catalog import ROOT
from toolkit.errors import ToolkitError
from toolkit.stack import clickhouse_scalar

GATEWAY = f"http://{loadgen.LOOPBACK}:8000"
RESULTS = ROOT / "benchmarks" / "results"
RANGE_MS = 10_000  # each tick request gets its own time range (1 ms apart): counted per request
SETTLE_SECONDS = 90  # how long storage may take to catch up after a fault


@dataclass
class Outcome:
    fault: str
    target: str
    acknowledged: int = 0
    stored: int = 0
    lost: int = 0
    duplicated: int = 0
    failed_requests: int = 0
    recovery_s: float | None = None
    restarts: int = 0
    detail: str = ""

    @property
    def ok(self) -> bool:
        # A fault whose load acknowledged nothing proved nothing.
        return (
            self.acknowledged > 0
            and self.lost == 0
            and self.duplicated == 0
            and self.recovery_s is not None
        )


@dataclass
class TickLoad:
    """Tick requests through the gateway, one time range each, sent one after another."""

    client: httpx.AsyncClient
    headers: dict
    symbol: str
    requests: int
    ticks_per_request: int
    pause: float = 0.05
    # Live ticks of the last hour: recent enough to be live, never ahead of data-bridge's clock
    # (it refuses ticks from the future), and each request's range after the one before.
    base_ms: int = field(default_factory=lambda: int(time.time() * 1000) - 3_600_000)
    accepted: dict[int, int] = field(default_factory=dict)
    failed: int = 0
    refused: int = 0  # ticks a 202 did not accept (e.g. unknown_symbol right after a restart)

    def __post_init__(self) -> None:
        if self.ticks_per_request > RANGE_MS or self.requests * RANGE_MS > 3_000_000:
            raise ValueError("the load would leave its hour: fewer or smaller requests")

    def body(self, index: int) -> dict:
        start = self.base_ms + index * RANGE_MS
        return {
            "ticks": [
                {"symbol": self.symbol, "ts_ms": start + i, "price": 1 + i / 1e4, "volume": 1}
                for i in range(self.ticks_per_request)
            ],
            "source": self.source,
        }

    @property
    def source(self) -> str:
        return f"chaos:{self.symbol.lower()}"

    async def run(self) -> None:
        for index in range(self.requests):
            try:
                answer = await self.client.post(
                    "/api/data-bridge/ticks", json=self.body(index), headers=self.headers
                )
            except httpx.HTTPError:
                answer = None
            if answer is not None and answer.status_code == 202:
                accepted = answer.json()["accepted"]
                if accepted:
                    self.accepted[index] = accepted
                self.refused += self.ticks_per_request - accepted
                if accepted < self.ticks_per_request:  # data-bridge restarted: name it again
                    await declare(self.client, self.headers, self.symbol)
            else:
                self.failed += 1
                await asyncio.sleep(0.2)
            await asyncio.sleep(self.pause)

    def count(self) -> tuple[int, int, int]:
        """(acknowledged, lost, duplicated) from ClickHouse's own per-range counts."""
        query = (
            f"SELECT intDiv(ts_ms - {self.base_ms}, {RANGE_MS}) AS r, count(), uniqExact(ts_ms) "  # noqa: S608
            f"FROM ticks WHERE symbol = '{self.symbol}' AND source = '{self.source}' "
            "GROUP BY r FORMAT TabSeparated"
        )
        rows = {}
        for line in clickhouse_scalar(query).splitlines():
            r, total, unique = (int(v) for v in line.split("\t"))
            rows[r] = (total, unique)
        acknowledged = sum(self.accepted.values())
        lost = sum(max(0, n - rows.get(r, (0, 0))[1]) for r, n in self.accepted.items())
        duplicated = sum(total - unique for total, unique in rows.values())
        return acknowledged, lost, duplicated

    async def outcome(
        self, fault: str, target: str, recovery: float | None, restarts: int, detail: str
    ) -> Outcome:
        """Once storage has settled, what ClickHouse holds of what this load was told."""
        await settle(self.stored, sum(self.accepted.values()))
        acknowledged, lost, duplicated = await asyncio.to_thread(self.count)
        stored = await asyncio.to_thread(self.stored)
        return Outcome(
            fault,
            target,
            acknowledged,
            stored,
            lost,
            duplicated,
            self.failed,
            recovery,
            restarts,
            detail,
        )

    def stored(self) -> int:
        query = (
            f"SELECT count() FROM ticks WHERE symbol = '{self.symbol}' "  # noqa: S608
            f"AND source = '{self.source}'"
        )
        return int(clickhouse_scalar(query))


async def declare(client: httpx.AsyncClient, headers: dict, symbol: str) -> None:
    """A one-tick replay makes a symbol known to data-bridge (unknown ones are refused)."""
    with_retry = 0
    while True:
        try:
            await bench_stream.start_replay(
                client, headers, series=bench_stream.SERIES, symbol=symbol, speed=0, limit=1
            )
            return
        except ToolkitError as exc:
            if "answered 409" in exc.problem:  # it holds ticks already: known, or never again
                return
            with_retry += 1
            if with_retry > 50:
                raise
            await asyncio.sleep(0.2)


def container_of(service: str):
    containers = stack.containers()
    if service not in containers:
        raise ToolkitError(f"{service} is not running", "start it: `inv up --profile full`")
    return containers[service]


def state_of(service: str) -> tuple[str, str, int]:
    container = container_of(service)
    container.reload()
    state = container.state
    return state.status, (state.health.status if state.health else "none"), container.restart_count


def sigkill(service: str) -> float:
    """SIGKILL the container's main process from the host, as a crash would (its restart
    policy then applies; `docker kill` would count as a manual stop). Returns the time."""
    container = container_of(service)
    pid = container.state.pid
    killed = time.monotonic()
    try:
        os.kill(pid, signal.SIGKILL)
    except (PermissionError, ProcessLookupError):
        # Docker Desktop: the process lives in a VM. Kill through the engine, then start it
        # again as the restart policy would have.
        container.kill("SIGKILL")
        container.start()
    return killed


async def healthy_again(service: str, restarts_before: int, killed: float, within: float = 120):
    """Seconds from the kill until the container restarted and reports healthy."""
    deadline = killed + within
    while time.monotonic() < deadline:
        status, health, restarts = await asyncio.to_thread(state_of, service)
        if status == "running" and health in ("healthy", "none") and restarts > restarts_before:
            return round(time.monotonic() - killed, 1)
        await asyncio.sleep(0.25)
    return None


async def settle(measure: Callable[[], int], target: int) -> int:
    """Wait until storage holds at least `target` and stops changing; returns what it holds."""
    deadline = time.monotonic() + SETTLE_SECONDS
    last, stable_since = -1, time.monotonic()
    while time.monotonic() < deadline:
        now = await asyncio.to_thread(measure)
        if now != last:
            last, stable_since = now, time.monotonic()
        elif now >= target and time.monotonic() - stable_since > 2:
            return now
        await asyncio.sleep(0.5)
    return last


async def admin_session(client: httpx.AsyncClient) -> dict:
    """Headers with a fresh access token of the admin: the faults' loads write (ticks,
    replays, training), which needs the admin role."""
    tokens = await loadgen.admin_login(client, loadgen.RateBudget(60))
    return {"Authorization": f"Bearer {tokens['access_token']}"}


async def kill_and_recover(service: str) -> tuple[float | None, int]:
    """SIGKILL `service` now and wait for it: (seconds until healthy again, restarts)."""
    _, _, before = await asyncio.to_thread(state_of, service)
    killed = await asyncio.to_thread(sigkill, service)
    recovery = await healthy_again(service, before, killed)
    _, _, after = await asyncio.to_thread(state_of, service)
    return recovery, after - before


async def kill_during(
    load: Awaitable[None], service: str, after: float
) -> tuple[float | None, int]:
    """Run `load`, SIGKILL `service` `after` seconds into it; (recovery seconds, restarts)."""
    task = asyncio.ensure_future(load)
    await asyncio.sleep(after)
    recovery, restarts = await kill_and_recover(service)
    await task
    return recovery, restarts
