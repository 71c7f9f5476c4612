"""The faults: each a bounded load through the gateway, a SIGKILL, and the stores' count."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable

import httpx
from python_on_whales.exceptions import DockerException

from toolkit import loadgen, stack
from toolkit.bench.measure import stream as bench_stream
from toolkit.chaos.load import (
    GATEWAY,
    Outcome,
    TickLoad,
    admin_session,
    declare,
    kill_and_recover,
    kill_during,
    settle,
)
from toolkit.console import step
from toolkit.errors import ToolkitError
from toolkit.stack import clickhouse_scalar

# -- the faults ------------------------------------------------------------------------------


async def ticks_under_kill(client, headers, target: str, quick: bool) -> Outcome:
    """Ticks posted through the gateway while `target` is SIGKILLed mid-stream."""
    symbol = bench_stream.new_symbol("CH")
    await declare(client, headers, symbol)
    load = TickLoad(client, headers, symbol, requests=30 if quick else 120, ticks_per_request=500)
    recovery, restarts = await kill_during(load.run(), target, after=1.0)
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
    stored = await settle(lambda: int(clickhouse_scalar(count)), state["accepted"])
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

    recovery, restarts = await kill_during(register(), "postgres", after=1.0)
    like = f"username LIKE '{prefix}%'"
    rows = f"SELECT count(*) FROM users WHERE {like}"  # noqa: S608
    names = f"SELECT username FROM users WHERE {like}"  # noqa: S608
    stored = await settle(lambda: int(postgres_scalar(rows)), len(acknowledged))
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
        headers = await admin_session(client)
        for name in names:
            # Registrations of one fault must not meet the per-address limit the last filled.
            await asyncio.to_thread(stack.forget_client_windows)
            with step(f"chaos: {name}") as note:
                outcome = await FAULTS[name](client, headers, quick)
                note["note"] = f"lost {outcome.lost}, duplicated {outcome.duplicated}"
            outcomes.append(outcome)
            # A fault may have ended the session (a restarted Redis, say): log in again.
            headers = await admin_session(client)
    return outcomes
