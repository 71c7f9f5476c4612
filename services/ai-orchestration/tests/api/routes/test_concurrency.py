"""At most MAX_WORKFLOWS at once, WORKFLOW_QUEUE waiting, 429 beyond: a burst on a real server.

A stand-in deep-learning answers /forecast slowly, so each workflow holds its slot long
enough for the burst to pile up behind it.
"""

import asyncio

import httpx
from fastapi.testclient import TestClient

import servicekit_testing as testing
from app.core.config import Settings
from app.main import build_app
from tests.utils import serve, stand_in

SLOW_SECONDS = 1.5


def slow_forecaster():
    return stand_in({("POST", "/forecast"): (409, {"detail": "slow stand-in"}, SLOW_SECONDS)})


def limited(settings: Settings, dl_url: str, **limits) -> Settings:
    return Settings(**settings.model_dump() | {"deep_learning_url": dl_url, **limits})


async def _burst(http: httpx.AsyncClient, body: dict, n: int) -> tuple[list, list[dict]]:
    """n concurrent briefs; the /stats seen while they ran."""
    tasks = [asyncio.create_task(http.post("/workflows/market-brief", json=body)) for _ in range(n)]
    seen = []
    while not all(task.done() for task in tasks):
        seen.append((await http.get("/stats")).json())
        await asyncio.sleep(0.05)
    return [task.result() for task in tasks], seen


async def _until_running(http: httpx.AsyncClient) -> None:
    """Wait (at most 10 s) until a workflow holds a slot."""
    for _ in range(500):
        if (await http.get("/stats")).json()["running"]:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("no workflow started within 10 s")


async def test_a_burst_beyond_slots_and_queue_gets_429(settings: Settings, eurusd: str) -> None:
    with serve(slow_forecaster()) as dl_url:
        app = build_app(
            limited(settings, dl_url, max_workflows=1, workflow_queue=1, step_timeout=4)
        )
        with serve(app) as url:
            async with httpx.AsyncClient(
                base_url=url, headers=testing.internal_headers(), timeout=60
            ) as http:
                body = {"symbol": eurusd, "cache": False}
                responses, seen = await _burst(http, body, 4)
                final = (await http.get("/stats")).json()

    codes = sorted(response.status_code for response in responses)
    assert codes == [200, 200, 429, 429], [r.text for r in responses]
    for response in responses:
        if response.status_code == 429:
            assert int(response.headers["Retry-After"]) >= 1
            detail = response.json()
            assert detail["retry_after"] == int(response.headers["Retry-After"])
            assert "1 workflows are running and 1 are waiting" in detail["detail"]
    assert max(s["running"] for s in seen) == 1
    assert any(s["queued"] == 1 for s in seen)
    assert final["max_running_seen"] == 1
    assert final["rejected"] == 2
    assert final["completed"] + final["partial"] == 2
    assert (final["running"], final["queued"]) == (0, 0)


async def test_a_cache_hit_needs_no_slot(settings: Settings, eurusd: str) -> None:
    with serve(slow_forecaster()) as dl_url:
        app = build_app(
            limited(settings, dl_url, max_workflows=1, workflow_queue=0, step_timeout=4)
        )
        with serve(app) as url:
            async with httpx.AsyncClient(
                base_url=url, headers=testing.internal_headers(), timeout=60
            ) as http:
                body = {"symbol": eurusd, "candles": 300}
                assert (await http.post("/workflows/market-brief", json=body)).status_code == 200
                # One uncached run holds the only slot; the queue holds none.
                busy = asyncio.create_task(
                    http.post("/workflows/market-brief", json=body | {"cache": False})
                )
                await _until_running(http)
                refused = await http.post("/workflows/market-brief", json=body | {"horizon": 3})
                hit = await http.post("/workflows/market-brief", json=body)
                assert (await busy).status_code == 200
    assert refused.status_code == 429
    assert hit.status_code == 200 and hit.json()["cached"] is True


def test_stats_count_what_happened(make_client, eurusd: str) -> None:
    client: TestClient = make_client(max_workflows=3, workflow_queue=4)
    stats = client.get("/stats").json()
    assert {k: stats[k] for k in ("max_concurrent", "queue_limit", "running", "queued")} == {
        "max_concurrent": 3,
        "queue_limit": 4,
        "running": 0,
        "queued": 0,
    }
    client.post("/workflows/market-brief", json={"symbol": eurusd, "candles": 250})
    client.post("/workflows/market-brief", json={"symbol": eurusd, "candles": 250})
    client.post("/workflows/market-brief", json={"symbol": "AONOSUCHSYMBOL"})
    stats = client.get("/stats").json()
    assert stats["completed"] + stats["partial"] == 2
    assert stats["failed"] == 1
    assert stats["max_running_seen"] == 1
    assert stats["cache"]["hits"] >= 1
    assert stats["latency_ms"]["cached"]["runs"] >= 1
    assert stats["latency_ms"]["uncached"]["p50"] > 0
