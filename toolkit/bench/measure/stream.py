"""The data tier's streaming figures: ingestion into ClickHouse and WebSocket fan-out.

- ingest: a real series (EURUSD hourly, from the `backtesting` package) replayed as fast as
  storage takes it (speed 0) under a symbol of this run; timed from the request until
  ClickHouse itself holds every accepted tick (counted with clickhouse-client, not through a
  service). Ticks per second end to end: validation, candles, batching, database-service,
  the idempotency bookkeeping and the ClickHouse insert.
- fanout: `subscribers` WebSockets subscribe to one symbol; ticks are then posted to
  data-bridge one at a time, and each delivery's latency is the time from just before the
  POST to its arrival on a subscriber's socket (one clock: this process). Run straight at
  data-bridge (its container's address, with the operator's internal credential: only the
  gateway is published) and through the gateway, which proxies every socket after its token
  check.

Everything goes to 127.0.0.1 or the stack's own containers, is bounded in ticks, sockets and
time, and stops by itself.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import time

import httpx
from websockets.asyncio.client import connect

from toolkit import envfile, health, loadgen, stack
from toolkit.catalog import Catalog
from toolkit.console import console, step, table
from toolkit.errors import ToolkitError
from toolkit.stack import clickhouse_scalar

SERIES = "EURUSD"
SOURCE_PATTERN = re.compile(r"[A-Za-z0-9_.:-]+")


def new_symbol(prefix: str) -> str:
    return f"{prefix}{secrets.token_hex(4).upper()}"


async def bench_token(client: httpx.AsyncClient) -> str:
    """A bench user's access token, registered and logged in through the gateway."""
    tokens = await loadgen.register_and_login(
        client, loadgen.RateBudget(60), loadgen.BenchUser.new()
    )
    return tokens["access_token"]


async def admin_token(client: httpx.AsyncClient) -> str:
    """The admin's access token (replays, ticks and training need the admin role)."""
    return (await loadgen.admin_login(client, loadgen.RateBudget(60)))["access_token"]


async def start_replay(client: httpx.AsyncClient, headers: dict, **body) -> dict:
    started = await client.post("/api/data-bridge/replays", json=body, headers=headers)
    if started.status_code != 202:
        raise ToolkitError(
            f"POST /api/data-bridge/replays answered {started.status_code}: {started.text[:200]}",
            "see `inv logs data-bridge`; is the data profile up? `inv up --profile data`",
        )
    return started.json()


async def replay_finished(client: httpx.AsyncClient, headers: dict, replay_id: str, within: float):
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        state = (await client.get(f"/api/data-bridge/replays/{replay_id}", headers=headers)).json()
        if state.get("state") != "running":
            return state
        await asyncio.sleep(0.1)
    raise ToolkitError(f"replay {replay_id} still running after {within:.0f}s", "see its logs")


def _stored(source: str) -> int:
    if not SOURCE_PATTERN.fullmatch(source):
        raise ToolkitError(f"unexpected replay source {source!r}", "data-bridge changed its ids?")
    return int(clickhouse_scalar(f"SELECT count() FROM ticks WHERE source = '{source}'"))  # noqa: S608


async def ingest(client: httpx.AsyncClient, headers: dict, limit: int | None, within: float):
    """stream["ingest"]: one replay from request to the last tick in ClickHouse."""
    body = {"series": SERIES, "symbol": new_symbol("IN"), "speed": 0}
    if limit:
        body["limit"] = limit
    started = time.perf_counter()
    replay = await start_replay(client, headers, **body)
    final = await replay_finished(client, headers, replay["replay_id"], within)
    if final.get("state") != "done":
        raise ToolkitError(f"replay ended {final.get('state')}: {final}", "see data-bridge logs")
    accepted = int(final["accepted"])
    deadline = time.monotonic() + within
    stored = 0
    while time.monotonic() < deadline:
        stored = await asyncio.to_thread(_stored, replay["source"])
        if stored >= accepted:
            break
        await asyncio.sleep(0.1)
    seconds = time.perf_counter() - started
    if stored != accepted:
        raise ToolkitError(
            f"{stored} of {accepted} accepted ticks in ClickHouse after {seconds:.0f}s",
            "see `inv logs data-bridge` and `inv logs database-service`",
        )
    return {
        "series": SERIES,
        "ticks": accepted,
        "stored": stored,
        "seconds": round(seconds, 3),
        "ticks_per_s": round(accepted / seconds, 1),
    }


async def fanout(
    client: httpx.AsyncClient,
    headers: dict,
    ws_url: str,
    *,
    bridge: str,
    subscribers: int,
    messages: int,
    ws_headers: dict | None = None,
    pause: float = 0.02,
    within: float = 20.0,
) -> dict:
    """One fan-out scenario: latency of every delivery, in milliseconds. Each tick is posted
    to data-bridge itself (`bridge`, as the operator), so only the subscribers' path differs
    between the direct and the gateway scenario."""
    # A short replay makes the symbol known to data-bridge (unknown symbols are refused).
    symbol = new_symbol("FO")
    replay = await start_replay(client, headers, series=SERIES, symbol=symbol, speed=0, limit=1)
    await replay_finished(client, headers, replay["replay_id"], within)
    base_ms = int(time.time() * 1000)
    sent: dict[int, float] = {}
    latencies: list[float] = []
    gaps = 0
    done = asyncio.Event()
    expected = subscribers * messages
    operator = {"X-Internal-Token": envfile.operator_credential()}

    async def subscriber(ready: asyncio.Event, counter: list[int]) -> None:
        nonlocal gaps
        async with connect(
            ws_url, open_timeout=within, max_queue=None, additional_headers=ws_headers
        ) as ws:
            await ws.send(
                json.dumps({"op": "subscribe", "symbols": [symbol], "channels": ["ticks"]})
            )
            counter[0] += 1
            if counter[0] == subscribers:
                ready.set()
            received = 0
            while received < messages:
                message = json.loads(await ws.recv())
                now = time.perf_counter()
                if message.get("type") == "gap":
                    gaps += int(message.get("dropped", 0))
                    received += int(message.get("dropped", 0))
                elif message.get("type") == "tick" and message.get("symbol") == symbol:
                    latencies.append((now - sent[message["ts_ms"] - base_ms]) * 1000)
                    received += 1
            if len(latencies) + gaps >= expected:
                done.set()

    ready, counter = asyncio.Event(), [0]
    tasks = [asyncio.create_task(subscriber(ready, counter)) for _ in range(subscribers)]
    try:
        await asyncio.wait_for(ready.wait(), within)
        await asyncio.sleep(0.5)  # every subscribe message read by data-bridge
        for i in range(messages):
            tick = {"symbol": symbol, "ts_ms": base_ms + i, "price": 1.0 + i / 1e4, "volume": 1}
            sent[i] = time.perf_counter()
            posted = await client.post(f"{bridge}/ticks", json={"ticks": [tick]}, headers=operator)
            if posted.status_code != 202:
                raise ToolkitError(
                    f"POST /ticks answered {posted.status_code}: {posted.text[:200]}",
                    "see `inv logs data-bridge`",
                )
            await asyncio.sleep(pause)
        await asyncio.wait_for(done.wait(), within)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    ordered = sorted(latencies)
    return {
        "subscribers": subscribers,
        "messages": messages,
        "deliveries": len(ordered),
        "dropped": gaps,
        "p50_ms": round(loadgen.percentile(ordered, 50), 3),
        "p95_ms": round(loadgen.percentile(ordered, 95), 3),
        "p99_ms": round(loadgen.percentile(ordered, 99), 3),
        "max_ms": round(ordered[-1], 3) if ordered else None,
    }


async def _measure(catalog: Catalog, quick: bool) -> dict:
    section: dict = {}
    subscribers, messages = 200, (20 if quick else 100)
    async with httpx.AsyncClient(base_url=loadgen.GATEWAY_URL, timeout=60, trust_env=False) as c:
        with step("log in the admin and a bench user through the gateway"):
            # Replays write to the store: the admin's; the subscribers only read: a user's.
            admin = await admin_token(c)
            token = await bench_token(c)
        headers = {"Authorization": f"Bearer {admin}"}
        limit = 1000 if quick else None  # EURUSD has 5,000 hourly bars: 4 ticks each
        with step(f"ingest: replay {SERIES} at full speed into ClickHouse") as note:
            section["ingest"] = await ingest(c, headers, limit, within=300)
            note["note"] = f"{section['ingest']['ticks_per_s']} ticks/s"
        # Durability's cost, as a ratio in this run: the same replay into a data-bridge
        # recreated with the journal off and on, in the order off, on, on, off (each fresh
        # process warmed by a one-bar replay first), so a drift of the machine during the run
        # weighs on both alike; each figure is the mean of its two rounds.
        rounds: dict[bool, list[dict]] = {False: [], True: []}
        for durable in (False, True, True, False):
            label = "on" if durable else "off"
            with step(f"ingest with the intake journal {label} (data-bridge recreated)") as note:
                await asyncio.to_thread(_recreate_bridge, catalog, durable=durable)
                await ingest(c, headers, 1, within=60)
                rounds[durable].append(await ingest(c, headers, limit, within=300))
                note["note"] = f"{rounds[durable][-1]['ticks_per_s']} ticks/s"
        for key, durable in (("ingest_volatile", False), ("ingest_durable", True)):
            runs = rounds[durable]
            section[key] = {
                **runs[0],
                "ticks_per_s": round(sum(r["ticks_per_s"] for r in runs) / len(runs), 1),
                "seconds": round(sum(r["seconds"] for r in runs) / len(runs), 3),
                "rounds": [r["ticks_per_s"] for r in runs],
            }
        section["durability_cost"] = round(
            1
            - section["ingest_durable"]["ticks_per_s"] / section["ingest_volatile"]["ticks_per_s"],
            3,
        )
        gateway_ws = loadgen.GATEWAY_URL.replace("http://", "ws://")
        # data-bridge is not published: the host reaches it at its container's address, with
        # the operator's internal credential (what the gateway adds for its subscribers).
        bridge = stack.service_url(catalog.service("data-bridge"))
        operator = {"X-Internal-Token": envfile.operator_credential()}
        for name, url, ws_headers in (
            ("fanout_direct", f"{bridge.replace('http://', 'ws://')}/ws", operator),
            ("fanout_gateway", f"{gateway_ws}/api/data-bridge/ws?token={token}", None),
        ):
            with step(f"{name}: {subscribers} subscribers, {messages} ticks") as note:
                section[name] = await fanout(
                    c,
                    headers,
                    url,
                    bridge=bridge,
                    subscribers=subscribers,
                    messages=messages,
                    ws_headers=ws_headers,
                )
                note["note"] = f"p99 {section[name]['p99_ms']} ms"
        for session in (admin, token):
            await c.post("/auth/logout", headers={"Authorization": f"Bearer {session}"})
    _show(section)
    return section


def _recreate_bridge(catalog: Catalog, durable: bool) -> None:
    """data-bridge again, with DURABLE_INTAKE as asked (compose interpolates it), healthy."""
    previous = os.environ.get("DURABLE_INTAKE")
    os.environ["DURABLE_INTAKE"] = "true" if durable else "false"
    try:
        client = stack.compose(["full"])
        health.start_and_wait(
            catalog,
            ["data-bridge"],
            lambda: client.compose.up(["data-bridge"], detach=True, no_deps=True, quiet=True),
            timeout=120,
        )
    finally:
        if previous is None:
            os.environ.pop("DURABLE_INTAKE", None)
        else:
            os.environ["DURABLE_INTAKE"] = previous


def measure(catalog: Catalog, quick: bool = False) -> dict:
    """The stream section, from synchronous code."""
    return asyncio.run(_measure(catalog, quick))


def _show(section: dict) -> None:
    console.print(
        table(
            "ingestion into ClickHouse (end to end)",
            ["journal", "series", "ticks", "seconds", "ticks/s"],
            [
                (
                    label,
                    row.get("series"),
                    row.get("ticks"),
                    row.get("seconds"),
                    row.get("ticks_per_s"),
                )
                for label, row in (
                    ("on (the stack as it ran)", section.get("ingest") or {}),
                    ("off (fresh processes, mean of 2)", section.get("ingest_volatile") or {}),
                    ("on (fresh processes, mean of 2)", section.get("ingest_durable") or {}),
                )
                if row
            ],
        )
    )
    if "durability_cost" in section:
        console.print(
            f"the journal costs {section['durability_cost']:.0%} of ingest throughput "
            "(fresh processes, off/on/on/off in one run; negative: within this machine's noise)"
        )
    rows = [
        (
            name,
            f["subscribers"],
            f["deliveries"],
            f["dropped"],
            f["p50_ms"],
            f["p95_ms"],
            f["p99_ms"],
            f["max_ms"],
        )
        for name, f in section.items()
        if name.startswith("fanout")
    ]
    console.print(
        table(
            "WebSocket fan-out (POST /ticks -> each subscriber)",
            [
                "path",
                "subscribers",
                "deliveries",
                "dropped",
                "p50 ms",
                "p95 ms",
                "p99 ms",
                "max ms",
            ],
            rows,
        )
    )
