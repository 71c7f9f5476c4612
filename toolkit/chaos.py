"""Fault injection: SIGKILL one component under bounded load, let it come back, and count.

Each fault runs a bounded load through the gateway (tick posts, a replay, registrations),
kills one container's main process with SIGKILL in the middle of it (what an OOM kill or a
crash does: no shutdown hook runs), waits until the container's restart policy has it healthy
again, and then asks the stores themselves (ClickHouse `count()`, PostgreSQL rows) what they
hold. Every acknowledged item must be there exactly once: `lost` and `duplicated` must be 0.
Requests refused or failed during the outage are counted, not retried: they were never
acknowledged, so the caller knows to send them again.

Everything goes to 127.0.0.1 (the gateway) or into the project's own containers, and every
load is bounded in requests and seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field

import httpx
from python_on_whales.exceptions import DockerException

from toolkit import bench_stream, loadgen, report, stack
from toolkit.catalog import ROOT
from toolkit.console import console, step, table
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
        await _settle(self.stored, sum(self.accepted.values()))
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


def _container(service: str):
    containers = stack.containers()
    if service not in containers:
        raise ToolkitError(f"{service} is not running", "start it: `inv up --profile full`")
    return containers[service]


def _state(service: str) -> tuple[str, str, int]:
    container = _container(service)
    container.reload()
    state = container.state
    return state.status, (state.health.status if state.health else "none"), container.restart_count


def sigkill(service: str) -> float:
    """SIGKILL the container's main process from the host, as a crash would (its restart
    policy then applies; `docker kill` would count as a manual stop). Returns the time."""
    container = _container(service)
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
        status, health, restarts = await asyncio.to_thread(_state, service)
        if status == "running" and health in ("healthy", "none") and restarts > restarts_before:
            return round(time.monotonic() - killed, 1)
        await asyncio.sleep(0.25)
    return None


async def _settle(measure: Callable[[], int], target: int) -> int:
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


async def _session(client: httpx.AsyncClient) -> dict:
    """Headers with a fresh access token of the admin: the faults' loads write (ticks,
    replays, training), which needs the admin role."""
    tokens = await loadgen.admin_login(client, loadgen.RateBudget(60))
    return {"Authorization": f"Bearer {tokens['access_token']}"}


async def kill_and_recover(service: str) -> tuple[float | None, int]:
    """SIGKILL `service` now and wait for it: (seconds until healthy again, restarts)."""
    _, _, before = await asyncio.to_thread(_state, service)
    killed = await asyncio.to_thread(sigkill, service)
    recovery = await healthy_again(service, before, killed)
    _, _, after = await asyncio.to_thread(_state, service)
    return recovery, after - before


async def _kill_during(
    load: Awaitable[None], service: str, after: float
) -> tuple[float | None, int]:
    """Run `load`, SIGKILL `service` `after` seconds into it; (recovery seconds, restarts)."""
    task = asyncio.ensure_future(load)
    await asyncio.sleep(after)
    recovery, restarts = await kill_and_recover(service)
    await task
    return recovery, restarts


# -- the faults ------------------------------------------------------------------------------


async def ticks_under_kill(client, headers, target: str, quick: bool) -> Outcome:
    """Ticks posted through the gateway while `target` is SIGKILLed mid-stream."""
    symbol = bench_stream.new_symbol("CH")
    await declare(client, headers, symbol)
    load = TickLoad(client, headers, symbol, requests=30 if quick else 120, ticks_per_request=500)
    recovery, restarts = await _kill_during(load.run(), target, after=1.0)
    detail = f"{load.requests} requests of {load.ticks_per_request} ticks; {load.refused} refused"
    return await load.outcome(f"SIGKILL {target} mid-stream", target, recovery, restarts, detail)


async def bridge_killed_with_storage_away(client, headers, quick: bool) -> Outcome:
    """database-service stopped, ticks acknowledged, data-bridge SIGKILLed, both back."""
    symbol = bench_stream.new_symbol("CS")
    await declare(client, headers, symbol)
    compose = stack.compose(["full"])
    await asyncio.to_thread(compose.compose.stop, ["database-service"])
    try:
        load = TickLoad(client, headers, symbol, requests=5, ticks_per_request=1000, pause=0)
        await load.run()
        recovery, restarts = await kill_and_recover("data-bridge")
    finally:
        await asyncio.to_thread(compose.compose.start, ["database-service"])
    detail = "database-service stopped; 5 x 1,000 ticks acknowledged; then both back"
    return await load.outcome(
        "SIGKILL data-bridge, storage away", "data-bridge", recovery, restarts, detail
    )


async def replay_under_clickhouse_kill(client, headers, quick: bool) -> Outcome:
    """A real series replayed at full speed while ClickHouse is SIGKILLed."""
    symbol = bench_stream.new_symbol("CR")
    body = {"series": bench_stream.SERIES, "symbol": symbol, "speed": 0}
    replay = await bench_stream.start_replay(client, headers, **body)
    recovery, restarts = await kill_and_recover("clickhouse")
    state = await bench_stream.replay_finished(client, headers, replay["replay_id"], 120)
    source = state["source"]
    count = f"SELECT count() FROM ticks WHERE source = '{source}'"  # noqa: S608
    unique = f"SELECT uniqExact(symbol, ts_ms) FROM ticks WHERE source = '{source}'"  # noqa: S608
    stored = await _settle(lambda: int(clickhouse_scalar(count)), state["accepted"])
    distinct = int(await asyncio.to_thread(clickhouse_scalar, unique))
    return Outcome(
        "SIGKILL clickhouse mid-replay",
        "clickhouse",
        state["accepted"],
        stored,
        max(0, state["accepted"] - distinct),
        stored - distinct,
        0,
        recovery,
        restarts,
        f"{bench_stream.SERIES} replayed at full speed",
    )


def postgres_scalar(query: str) -> str:
    """One value from the stack's PostgreSQL itself (psql in its container)."""
    try:
        out = stack.compose(["core"]).compose.execute(
            "postgres",
            ["sh", "-c", 'psql -At -U "$POSTGRES_USER" -d "$POSTGRES_DB" -c "$0"', query],
            tty=False,
        )
    except DockerException as exc:
        raise ToolkitError(f"querying PostgreSQL failed: {exc}", "`inv logs postgres`") from None
    return str(out).strip()


async def registrations_under_postgres_kill(client, headers, quick: bool) -> Outcome:
    """Users registered through the gateway while PostgreSQL is SIGKILLed."""
    prefix = f"chaos_{secrets.token_hex(4)}_"
    acknowledged, failed = set(), 0
    total = 12 if quick else 40

    async def register() -> None:
        nonlocal failed
        for n in range(total):
            name = f"{prefix}{n}"
            body = {
                "username": name,
                "email": f"{name}@example.com",
                "password": f"Chaos-{secrets.token_hex(6)}-9x",
            }
            try:
                answer = await client.post("/auth/register", json=body)
            except httpx.HTTPError:
                answer = None
            if answer is not None and answer.status_code == 201:
                acknowledged.add(name)
            else:
                failed += 1
                await asyncio.sleep(0.3)

    recovery, restarts = await _kill_during(register(), "postgres", after=1.0)
    like = f"username LIKE '{prefix}%'"
    rows = f"SELECT count(*) FROM users WHERE {like}"  # noqa: S608
    names = f"SELECT username FROM users WHERE {like}"  # noqa: S608
    stored = await _settle(lambda: int(postgres_scalar(rows)), len(acknowledged))
    present = set(postgres_scalar(names).split())
    return Outcome(
        "SIGKILL postgres mid-registration",
        "postgres",
        len(acknowledged),
        stored,
        len(acknowledged - present),
        stored - len(present),
        failed,
        recovery,
        restarts,
        f"{total} registrations, one after another",
    )


async def sessions_under_redis_kill(client, headers, quick: bool) -> Outcome:
    """Sessions opened through the gateway, then Redis SIGKILLed: each must still be valid.

    Redis appends every write to its log and fsyncs it once a second (appendfsync everysec):
    the promise is for sessions older than that second, so the kill waits 1.5 s."""
    users = [loadgen.BenchUser.new() for _ in range(3 if quick else 10)]
    tokens = []
    for user in users:
        tokens.append(await loadgen.register_and_login(client, loadgen.RateBudget(60), user))
    await asyncio.sleep(1.5)
    recovery, restarts = await kill_and_recover("redis")
    valid, failed = 0, 0
    for pair in tokens:
        for _ in range(20):  # the gateway and user-service reconnect to Redis on their own
            answer = await client.get(
                "/auth/me", headers={"Authorization": f"Bearer {pair['access_token']}"}
            )
            if answer.status_code == 200 or answer.status_code == 401:
                break
            failed += 1
            await asyncio.sleep(0.5)
        valid += answer.status_code == 200
    return Outcome(
        "SIGKILL redis with sessions open",
        "redis",
        len(tokens),
        valid,
        len(tokens) - valid,
        0,
        failed,
        recovery,
        restarts,
        "sessions 1.5 s old (Redis fsyncs its log every second); each checked by /auth/me",
    )


async def model_under_ml_kill(client, headers, quick: bool) -> Outcome:
    """A model trained and promoted through the gateway, then ml-processing SIGKILLed: it is
    still listed and still the active one."""
    ml = "/api/ml-processing"
    symbol = bench_stream.new_symbol("CM")
    body = {"series": bench_stream.SERIES, "symbol": symbol, "speed": 0}
    replay = await bench_stream.start_replay(client, headers, **body)
    await bench_stream.replay_finished(client, headers, replay["replay_id"], 120)
    train = {"symbol": symbol, "interval": "1h", "model": "xgboost", "promote": True}
    job, deadline = None, time.monotonic() + 120
    while job is None and time.monotonic() < deadline:  # candles land a moment after ticks
        started = await client.post(f"{ml}/models/train", json=train, headers=headers)
        if started.status_code == 202:
            while time.monotonic() < deadline:
                state = await client.get(f"{ml}/jobs/{started.json()['id']}", headers=headers)
                job = state.json()
                if job["state"] in {"succeeded", "failed"}:
                    break
                await asyncio.sleep(0.5)
            if job["state"] != "succeeded":
                job = None
        if job is None:
            await asyncio.sleep(1)
    if job is None:
        raise ToolkitError("no model could be trained for the ml-processing fault", "its logs")
    recovery, restarts = await kill_and_recover("ml-processing")
    active = (await client.get(f"{ml}/models/active", headers=headers)).json()
    listed = (await client.get(f"{ml}/models", headers=headers)).text
    kept = int(active.get("active") == job["version"] and str(job["version"]) in listed)
    return Outcome(
        "SIGKILL ml-processing after a promotion",
        "ml-processing",
        1,
        kept,
        1 - kept,
        0,
        0,
        recovery,
        restarts,
        f"model {job['version']} trained and promoted, then the kill",
    )


FAULTS: dict[str, Callable[..., Awaitable[Outcome]]] = {
    "bridge-storage-away": bridge_killed_with_storage_away,
    "bridge-mid-stream": lambda c, h, q: ticks_under_kill(c, h, "data-bridge", q),
    "database-service-mid-stream": lambda c, h, q: ticks_under_kill(c, h, "database-service", q),
    "clickhouse-mid-replay": replay_under_clickhouse_kill,
    "postgres-mid-registration": registrations_under_postgres_kill,
    "gateway-mid-stream": lambda c, h, q: ticks_under_kill(c, h, "api-gateway", q),
    "redis-sessions": sessions_under_redis_kill,
    "ml-processing-after-promotion": model_under_ml_kill,
}


async def run(names: list[str], quick: bool) -> list[Outcome]:
    outcomes = []
    await asyncio.to_thread(stack.forget_client_windows)  # earlier runs' registrations
    async with httpx.AsyncClient(base_url=GATEWAY, timeout=30) as client:
        headers = await _session(client)
        for name in names:
            # Registrations of one fault must not meet the per-address limit the last filled.
            await asyncio.to_thread(stack.forget_client_windows)
            with step(f"chaos: {name}") as note:
                outcome = await FAULTS[name](client, headers, quick)
                note["note"] = f"lost {outcome.lost}, duplicated {outcome.duplicated}"
            outcomes.append(outcome)
            # A fault may have ended the session (a restarted Redis, say): log in again.
            headers = await _session(client)
    return outcomes


def render_table(outcomes: list[Outcome]) -> str:
    """The markdown table the README shows."""
    head = (
        "| fault | acknowledged | stored | lost | duplicated | failed requests | "
        "healthy again after | restarts |\n|---|---|---|---|---|---|---|---|\n"
    )
    rows = [
        f"| {o.fault} | {o.acknowledged:,} | {o.stored:,} | {o.lost} | {o.duplicated} | "
        f"{o.failed_requests} | "
        + (f"{o.recovery_s:.1f} s" if o.recovery_s is not None else "never")
        + f" | {o.restarts} |"
        for o in outcomes
    ]
    return head + "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m toolkit.chaos", description=__doc__)
    parser.add_argument("--faults", default=",".join(FAULTS), help="comma-separated names")
    parser.add_argument("--quick", action="store_true", help="smaller loads (CI's pass)")
    parser.add_argument("--output", default="chaos.json", help="under benchmarks/results/")
    args = parser.parse_args(argv)
    names = [n for n in args.faults.split(",") if n]
    unknown = [n for n in names if n not in FAULTS]
    if unknown:
        console.print(f"[red]error:[/] unknown fault {unknown[0]!r}: one of {', '.join(FAULTS)}")
        return 2
    try:
        outcomes = asyncio.run(run(names, args.quick))
    except ToolkitError as exc:
        console.print(f"[red]error:[/] {exc}")
        return 1
    document = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "quick": args.quick,
        "faults": [asdict(o) for o in outcomes],
    }
    path = RESULTS / args.output
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")
    path.with_suffix(".md").write_text(render_table(outcomes))
    report.chaos_chart(document["faults"], path.with_suffix(".png"))
    console.print(
        table(
            "chaos",
            ["fault", "acked", "stored", "lost", "dup", "failed req", "healthy after", "restarts"],
            [
                (
                    o.fault,
                    o.acknowledged,
                    o.stored,
                    o.lost,
                    o.duplicated,
                    o.failed_requests,
                    "never" if o.recovery_s is None else f"{o.recovery_s:.1f}s",
                    o.restarts,
                )
                for o in outcomes
            ],
        )
    )
    console.print(
        f"results: {path.relative_to(ROOT)}, {path.with_suffix('.md').name} (table) and "
        f"{path.with_suffix('.png').name} (chart)"
    )
    bad = [o for o in outcomes if not o.ok]
    for o in bad:
        console.print(
            f"[red]FAILED[/] {o.fault}: lost {o.lost}, duplicated {o.duplicated}, "
            f"healthy again: {o.recovery_s}"
        )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
