"""An upstream WebSocket feed served on 127.0.0.1: ingested, validated, reconnected, stored."""

import asyncio
import json

import httpx
from websockets.asyncio.server import ServerConnection, serve

import servicekit_testing as testing
from tests.utils import eventually, unique_symbol

BASE_MS = 1_700_000_000_000


def tick(symbol: str, n: int, **extra) -> dict:
    return {"symbol": symbol, "ts_ms": BASE_MS + n * 1000, "price": 100 + n, "volume": 1, **extra}


class Upstream:
    """Each connection plays the next script; the last connection stays open."""

    def __init__(self, scripts: list[list[str]]) -> None:
        self.scripts = scripts
        self.connections = 0
        self.done = asyncio.Event()

    async def handler(self, socket: ServerConnection) -> None:
        script = self.scripts[min(self.connections, len(self.scripts) - 1)]
        self.connections += 1
        for message in script:
            await socket.send(message)
        if self.connections < len(self.scripts):
            return  # closing makes the feed reconnect
        self.done.set()
        await socket.wait_closed()


async def test_feed_is_ingested_across_reconnects(
    start_bridge, database: httpx.AsyncClient
) -> None:
    symbol = unique_symbol("FD")
    first = [
        json.dumps([tick(symbol, 0), tick(symbol, 1)]),
        json.dumps(tick(symbol.lower(), 2)),
        json.dumps({"ticks": [tick(symbol, 3), {"symbol": symbol, "price": 1}]}),
        json.dumps({"type": "heartbeat"}),
        "{not json",
        json.dumps(tick(symbol, 4, price=float("nan"))),  # a NaN literal on the wire
        json.dumps([tick(symbol, 5, pad="x" * 2000)]),  # over the 1 KiB message limit
        json.dumps(tick("UNDECLARED", 6)),
        json.dumps(tick(symbol, 7, volume=-5)),
    ]
    second = [json.dumps(tick(symbol, 8)), "[" + " " * 20_000 + "]"]  # a frame over 16 KiB
    third = [json.dumps([tick(symbol, n) for n in range(9, 12)])]
    upstream = Upstream([first, second, third])
    async with serve(upstream.handler, "127.0.0.1", 0, max_size=None) as server:
        port = server.sockets[0].getsockname()[1]
        running = await start_bridge(feed_max_message_bytes=1024, feed_backoff_initial=0.05)
        async with httpx.AsyncClient(
            base_url=running.url, headers=testing.internal_headers(), timeout=30
        ) as client:
            created = await client.post(
                "/feeds", json={"url": f"ws://127.0.0.1:{port}/ticks", "symbols": [symbol]}
            )
            assert created.status_code == 201, created.text
            feed = created.json()
            assert feed["symbols"] == [symbol] and feed["source"] == f"feed:{feed['feed_id']}"

            async def all_read() -> bool:
                state = (await client.get(f"/feeds/{feed['feed_id']}")).json()
                return state["accepted"] == 8

            await asyncio.wait_for(upstream.done.wait(), 30)
            await eventually(all_read)
            state = (await client.get(f"/feeds/{feed['feed_id']}")).json()
            assert state["rejected"] == {
                "malformed": 1,
                "bad_json": 1,
                "not_finite": 1,
                "oversized": 2,
                "unknown_symbol": 1,
                "negative_volume": 1,
            }
            assert state["ignored"] == 1 and state["connects"] == 3
            assert state["state"] == "connected"

            async def stored() -> bool:
                count = await database.get("/market/ticks/count", params={"source": feed["source"]})
                return count.json()["count"] == 8

            await eventually(stored)
            assert [f["feed_id"] for f in (await client.get("/feeds")).json()] == [feed["feed_id"]]
            deleted = await client.delete(f"/feeds/{feed['feed_id']}")
            assert deleted.status_code == 204
            assert (await client.get(f"/feeds/{feed['feed_id']}")).status_code == 404


async def test_feed_that_cannot_connect_backs_off(start_bridge) -> None:
    running = await start_bridge(feed_backoff_initial=0.05, feed_backoff_max=0.2)
    async with httpx.AsyncClient(
        base_url=running.url, headers=testing.internal_headers(), timeout=30
    ) as client:
        # A port nothing listens on: bind one, then close it.
        server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        server.close()
        await server.wait_closed()
        feed = (await client.post("/feeds", json={"url": f"ws://127.0.0.1:{port}"})).json()

        async def failing() -> bool:
            state = (await client.get(f"/feeds/{feed['feed_id']}")).json()
            return state["state"] in ("backoff", "connecting") and bool(state["last_error"])

        await eventually(failing)
        assert (await client.delete(f"/feeds/{feed['feed_id']}")).status_code == 204


async def test_feed_requests_are_checked(client: httpx.AsyncClient) -> None:
    for body in (
        {"url": "http://127.0.0.1:1/"},
        {"url": "ws://"},
        {"url": "ws://127.0.0.1:99999/"},
        {"url": "ws://127.0.0.1:1/", "symbols": ["bad symbol"]},
    ):
        assert (await client.post("/feeds", json=body)).status_code == 422, body
    assert (await client.delete("/feeds/nope")).status_code == 404


async def test_a_feed_stops_reading_while_the_buffer_is_full(
    start_bridge, proxy, database: httpx.AsyncClient, tmp_path
) -> None:
    symbol = unique_symbol("FP")
    messages = [json.dumps([tick(symbol, n * 100 + i) for i in range(100)]) for n in range(30)]
    upstream = Upstream([messages])
    async with serve(upstream.handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        running = await start_bridge(
            database_service_url=proxy.url,
            spool_dir=tmp_path / "feed-spool",
            spool_max_mb=0.05,
            buffer_max_ticks=200,
            batch_max_ticks=100,
        )
        proxy.switch("refuse")
        async with httpx.AsyncClient(
            base_url=running.url, headers=testing.internal_headers(), timeout=30
        ) as client:
            feed = (
                await client.post(
                    "/feeds", json={"url": f"ws://127.0.0.1:{port}", "symbols": [symbol]}
                )
            ).json()

            async def state() -> dict:
                return (await client.get(f"/feeds/{feed['feed_id']}")).json()

            async def paused() -> bool:
                return (await state())["state"] == "paused"

            await eventually(paused)
            assert (await state())["accepted"] < 3000
            proxy.switch("up")

            async def all_stored() -> bool:
                current = await state()
                return current["accepted"] == current["stored"] == 3000

            await eventually(all_stored, within=60)
        count = await database.get("/market/ticks/count", params={"source": feed["source"]})
        assert count.json()["count"] == 3000


async def closed_port() -> int:
    """A port of 127.0.0.1 nothing listens on: bind one, then close it."""
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    return port


async def test_feed_hosts_must_be_allowed(start_bridge, tmp_path) -> None:
    upstream = Upstream([[]])
    async with serve(upstream.handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        for n, allowed in enumerate(("", "feeds.example.com", "127.0.0.1:1")):
            running = await start_bridge(feed_allowed_hosts=allowed, spool_dir=tmp_path / str(n))
            async with httpx.AsyncClient(
                base_url=running.url, headers=testing.internal_headers(), timeout=30
            ) as client:
                refused = await client.post("/feeds", json={"url": f"ws://127.0.0.1:{port}"})
                assert refused.status_code == 403, (allowed, refused.text)
                assert "FEED_ALLOWED_HOSTS" in refused.json()["detail"]
                assert (await client.get("/feeds")).json() == []
            await running.stop()
        assert upstream.connections == 0


async def test_internal_hosts_are_refused_without_the_opt_in(start_bridge) -> None:
    upstream = Upstream([[]])
    async with serve(upstream.handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        running = await start_bridge(
            feed_allow_private=False,
            feed_allowed_hosts="127.0.0.1,localhost,[::1],database-service",
        )
        async with httpx.AsyncClient(
            base_url=running.url, headers=testing.internal_headers(), timeout=30
        ) as client:
            for host in ("127.0.0.1", "localhost", "[::1]", "database-service"):
                refused = await client.post("/feeds", json={"url": f"ws://{host}:{port}"})
                assert refused.status_code == 403, (host, refused.text)
                assert "FEED_ALLOW_PRIVATE" in refused.json()["detail"]
            assert (await client.get("/feeds")).json() == []
        assert upstream.connections == 0


def resolver(*answers: list[str]):
    """A resolver answering each call with the next of `answers` (the last one repeats)."""
    calls: list[str] = []

    async def resolve(host: str, port: int) -> list[str]:
        calls.append(host)
        return answers[min(len(calls), len(answers)) - 1]

    resolve.calls = calls
    return resolve


async def test_a_name_that_rebinds_to_an_internal_address_is_not_connected(start_bridge) -> None:
    upstream = Upstream([[]])
    async with serve(upstream.handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        running = await start_bridge(
            feed_allow_private=False, feed_allowed_hosts="*.example.com", feed_backoff_initial=0.05
        )
        # Public when POST /feeds checks it, then the internal address a server listens on.
        running.bridge.feeds.policy.resolve = resolve = resolver(["93.184.216.34"], ["127.0.0.1"])
        async with httpx.AsyncClient(
            base_url=running.url, headers=testing.internal_headers(), timeout=30
        ) as client:
            created = await client.post("/feeds", json={"url": f"ws://feed.example.com:{port}"})
            assert created.status_code == 201, created.text

            async def refused() -> bool:
                state = (await client.get(f"/feeds/{created.json()['feed_id']}")).json()
                return state["last_error"] == "refused by policy" and len(resolve.calls) >= 3

            await eventually(refused)
        assert upstream.connections == 0


async def test_a_feed_connects_to_the_address_it_checked(start_bridge) -> None:
    symbol = unique_symbol("FR")
    hosts: list[str] = []

    async def handler(socket: ServerConnection) -> None:
        hosts.append(socket.request.headers["Host"])
        await socket.send(json.dumps(tick(symbol, 0)))
        await socket.wait_closed()

    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        running = await start_bridge(feed_allowed_hosts="*.example.test")
        # The name resolves nowhere but through the policy's resolver.
        running.bridge.feeds.policy.resolve = resolver(["127.0.0.1"])
        async with httpx.AsyncClient(
            base_url=running.url, headers=testing.internal_headers(), timeout=30
        ) as client:
            url = f"ws://feed.example.test:{port}/"
            feed = (await client.post("/feeds", json={"url": url, "symbols": [symbol]})).json()

            async def read() -> bool:
                return (await client.get(f"/feeds/{feed['feed_id']}")).json()["accepted"] == 1

            await eventually(read)
        assert hosts == [f"feed.example.test:{port}"]


async def test_failures_reveal_nothing_about_the_network(start_bridge) -> None:
    """The caller sees a generic reason; the exception (address, port, errno) is logged."""
    reached: list[str] = []

    async def redirect(connection, request):
        response = connection.respond(302, "")
        response.headers["Location"] = f"ws://127.0.0.1:{target_port}/"
        return response

    async def target(socket: ServerConnection) -> None:
        reached.append(socket.request.path)

    async def hang_up(socket: ServerConnection) -> None:
        await socket.close()

    async with (
        serve(target, "127.0.0.1", 0) as target_server,
        serve(target, "127.0.0.1", 0, process_request=redirect) as redirecting,
        serve(hang_up, "127.0.0.1", 0) as hanging_up,
    ):
        target_port = target_server.sockets[0].getsockname()[1]
        ports = {
            "connection failed": await closed_port(),
            "handshake failed": redirecting.sockets[0].getsockname()[1],  # not followed
            "closed by upstream": hanging_up.sockets[0].getsockname()[1],
        }
        running = await start_bridge(feed_backoff_initial=0.05, feed_backoff_max=0.2)
        async with httpx.AsyncClient(
            base_url=running.url, headers=testing.internal_headers(), timeout=30
        ) as client:
            for reason, port in ports.items():
                feed = (await client.post("/feeds", json={"url": f"ws://127.0.0.1:{port}"})).json()

                async def failed(feed_id: str = feed["feed_id"], reason: str = reason) -> bool:
                    state = (await client.get(f"/feeds/{feed_id}")).json()
                    return state["last_error"] == reason and state["state"] == "backoff"

                await eventually(failed)
                state = (await client.get(f"/feeds/{feed['feed_id']}")).json()
                for name in ("url", "feed_id", "source", "created_at"):  # input, ids, a time
                    del state[name]
                assert "127.0.0.1" not in json.dumps(state) and str(port) not in json.dumps(state)
    assert reached == []
