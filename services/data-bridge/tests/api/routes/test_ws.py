"""WS /ws over real sockets: 200 concurrent subscribers, per-symbol routing, candles, and the
slow-subscriber policy (drop oldest, tell with a gap message) while a fast one misses nothing."""

import asyncio

import httpx
import orjson
from websockets.asyncio.client import ClientConnection, connect

import servicekit_testing as testing
from tests.utils import RunningBridge, unique_symbol

BASE_MS = 1_700_000_000_000


async def subscribe(url: str, symbols: list[str], channels=("ticks",), **options):
    options.setdefault("additional_headers", testing.internal_headers())
    connection = await connect(url, **options)
    await connection.send(
        orjson.dumps({"op": "subscribe", "symbols": symbols, "channels": list(channels)})
    )
    ack = orjson.loads(await connection.recv())
    assert ack["type"] == "subscribed", ack
    return connection


async def next_of_type(connection: ClientConnection, kind: str) -> dict:
    while True:
        message = orjson.loads(await asyncio.wait_for(connection.recv(), 30))
        if message["type"] == kind:
            return message


async def post_ticks(client: httpx.AsyncClient, symbol: str, first: int, count: int) -> None:
    ticks = [
        {"symbol": symbol, "ts_ms": BASE_MS + n, "price": 1 + n, "volume": 1}
        for n in range(first, first + count)
    ]
    response = await client.post("/ticks", json={"ticks": ticks})
    assert response.json()["accepted"] == count


async def test_200_subscribers_all_receive_the_tick(start_bridge) -> None:
    symbol, other = unique_symbol("WS"), unique_symbol("WO")
    running: RunningBridge = await start_bridge(known_symbols=f"{symbol},{other}")
    connections = await asyncio.gather(
        *(subscribe(running.ws_url, [symbol]) for _ in range(190)),
        *(subscribe(running.ws_url, ["*"]) for _ in range(10)),
    )
    try:
        async with httpx.AsyncClient(
            base_url=running.url, headers=testing.internal_headers()
        ) as client:
            assert (await client.get("/stats")).json()["subscribers"] == 200
            await post_ticks(client, other, 0, 1)  # only the 10 wildcard subscribers want it
            await post_ticks(client, symbol, 0, 1)
        received = await asyncio.gather(*(next_of_type(c, "tick") for c in connections))
        assert [m["symbol"] for m in received[:190]] == [symbol] * 190
        assert all(m["symbol"] == other for m in received[190:])
        assert received[0] == {
            "type": "tick",
            "symbol": symbol,
            "ts_ms": BASE_MS,
            "price": 1.0,
            "volume": 1.0,
        }
    finally:
        await asyncio.gather(*(c.close() for c in connections))


async def test_slow_subscriber_gets_gaps_while_fast_one_gets_everything(start_bridge) -> None:
    symbol = unique_symbol("SL")
    running = await start_bridge(known_symbols=symbol, fanout_queue=64)
    fast = await subscribe(running.ws_url, [symbol])
    slow = await subscribe(running.ws_url, [symbol])
    # Loopback TCP buffers absorb megabytes before a socket write blocks, so the slow reader
    # is made slow where its socket would block: the server-side send of its subscriber is held
    # until the end. Everything else (queues, sender tasks, frames) is the real path.
    hub = running.bridge.pipeline.hub
    held = hub.subscribers[max(hub.subscribers)]
    gate, real_send = asyncio.Event(), held.send

    async def blocked_send(text: str) -> None:
        await gate.wait()
        await real_send(text)

    held.send = blocked_send
    total, step, got = 2000, 50, []
    async with httpx.AsyncClient(
        base_url=running.url, headers=testing.internal_headers()
    ) as client:
        for first in range(0, total, step):
            await post_ticks(client, symbol, first, step)
            while len(got) < first + step:  # the fast one keeps up between bursts
                got.append(await next_of_type(fast, "tick"))
        stats = (await client.get("/stats")).json()
    assert [m["ts_ms"] - BASE_MS for m in got] == list(range(total))
    # One message was taken by the held send; the queue keeps the 64 newest.
    assert stats["dropped"] == total - 1 - 64

    gate.set()
    messages = [orjson.loads(await asyncio.wait_for(slow.recv(), 30)) for _ in range(1 + 1 + 64)]
    assert messages[0]["ts_ms"] == BASE_MS
    assert messages[1] == {"type": "gap", "dropped": total - 1 - 64}
    assert [m["ts_ms"] - BASE_MS for m in messages[2:]] == list(range(total - 64, total))
    await fast.close()
    await slow.close()


async def test_candle_channel_and_unsubscribe(start_bridge) -> None:
    symbol = unique_symbol("CN")
    running = await start_bridge(known_symbols=symbol, out_of_order_tolerance_ms=0)
    watcher = await subscribe(running.ws_url, [symbol], channels=["candles:1m", "ticks"])
    async with httpx.AsyncClient(
        base_url=running.url, headers=testing.internal_headers()
    ) as client:
        await post_ticks(client, symbol, 0, 3)
        candle = await next_of_type(watcher, "candle")
        assert candle["symbol"] == symbol and candle["interval"] == "1m"
        assert (candle["open"], candle["close"], candle["ticks"]) == (1.0, 3.0, 3)
        assert candle["start_ms"] == BASE_MS // 60_000 * 60_000 and candle["closed"] is False

        await watcher.send(orjson.dumps({"op": "unsubscribe", "symbols": [symbol]}))
        reply = await next_of_type(watcher, "unsubscribed")
        assert reply["channels"] == ["ticks"]
        await post_ticks(client, symbol, 120_000, 1)  # two minutes later: closes that window
        closed = await next_of_type(watcher, "candle")
        assert closed["closed"] is True and closed["start_ms"] == candle["start_ms"]
    await watcher.close()


async def test_bad_requests_get_error_replies(bridge: RunningBridge) -> None:
    async with connect(bridge.ws_url, additional_headers=testing.internal_headers()) as connection:
        for request, expected in (
            ("not json", "not valid JSON"),
            ('{"op": "dance"}', "expected"),
            ('{"op": "subscribe", "symbols": []}', "non-empty"),
            ('{"op": "subscribe", "symbols": ["bad symbol"]}', "does not match"),
            ('{"op": "subscribe", "symbols": ["A"], "channels": ["candles:2m"]}', "channels"),
            ("x" * 70_000, "larger than"),
        ):
            await connection.send(request)
            reply = orjson.loads(await connection.recv())
            assert reply["type"] == "error" and expected in reply["detail"], (request, reply)


async def test_subscribers_beyond_the_limit_are_turned_away(start_bridge) -> None:
    running = await start_bridge(max_subscribers=1)
    async with connect(running.ws_url, additional_headers=testing.internal_headers()) as first:
        await first.send('{"op": "subscribe", "symbols": ["*"]}')
        await first.recv()
        async with connect(running.ws_url, additional_headers=testing.internal_headers()) as second:
            await second.wait_closed()
            assert second.close_code == 1013
