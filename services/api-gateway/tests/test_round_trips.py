"""The gateway's fixed cost per request. In Redis: the rate limit and the session check share
one round trip (a pipeline), whatever the route; counted at redis-py's two doors, a command
sent on its own and a pipeline sent whole (the health checker's PINGs are not requests' work).
In threads: none; FastAPI runs a plain `def` dependency in its thread pool, a hand-off to
another thread and back, so every dependency on the hot path is `async def`."""

from collections.abc import Iterator

import anyio.to_thread
import pytest
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline


@pytest.fixture
def round_trips(monkeypatch) -> Iterator[list[str]]:
    """Every round trip to Redis the gateway makes while the test runs, by first command."""
    trips: list[str] = []
    send_command, send_pipeline = Redis.execute_command, Pipeline.execute

    async def command(self, *args, **options):
        if str(args[0]).upper() != "PING":
            trips.append(str(args[0]).upper())
        return await send_command(self, *args, **options)

    async def pipeline(self, *args, **options):
        trips.append("PIPELINE " + " ".join(str(c[0][0]) for c in self.command_stack))
        return await send_pipeline(self, *args, **options)

    monkeypatch.setattr(Redis, "execute_command", command)
    monkeypatch.setattr(Pipeline, "execute", pipeline)
    return trips


@pytest.fixture
def thread_hops(monkeypatch) -> list[str]:
    """Every call the app hands to a worker thread (Starlette's run_in_threadpool ends here)."""
    hops: list[str] = []
    run_sync = anyio.to_thread.run_sync

    async def counted(function, *args, **options):
        hops.append(getattr(function, "__name__", repr(function)))
        return await run_sync(function, *args, **options)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counted)
    return hops


def test_a_request_runs_nothing_in_the_thread_pool(gateway, session, thread_hops):
    assert gateway.get("/api/echo-service/items/7", headers=session.headers).status_code == 200
    assert gateway.get("/auth/me", headers=session.headers).status_code == 200
    assert thread_hops == []


def test_a_proxied_request_costs_one_round_trip(gateway, session, round_trips):
    response = gateway.get("/api/echo-service/items/7", headers=session.headers)
    assert response.status_code == 200
    assert round_trips == ["PIPELINE INCRBY EXPIRE EXISTS"]


def test_a_protected_auth_route_costs_one_round_trip(gateway, session, round_trips):
    assert gateway.get("/auth/me", headers=session.headers).status_code == 200
    assert round_trips == ["PIPELINE INCRBY EXPIRE EXISTS"]


def test_an_open_route_counts_the_limit_alone(gateway, round_trips):
    assert gateway.post("/auth/login", json={}).status_code == 200
    assert round_trips == ["PIPELINE INCRBY EXPIRE"]


def test_a_bad_token_costs_the_count_and_no_session_lookup(gateway, round_trips):
    response = gateway.get("/api/echo-service/x", headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401
    assert round_trips == ["PIPELINE INCRBY EXPIRE"]
