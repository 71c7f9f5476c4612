"""The runtime benchmarks against the real engine, briefly (well under a minute in all).

Needs the core profile's images; the load and memory checks also need it running
(`inv up --profile core`) and are skipped otherwise. Nothing here stops or restarts a container.
"""

import asyncio

import httpx
import pytest

from toolkit import bench_resources, catalog, engine, loadgen
from toolkit.render import PROJECT

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def core() -> catalog.Catalog:
    return catalog.load()


@pytest.fixture(scope="module")
def gateway_up() -> None:
    try:
        httpx.get(f"{loadgen.GATEWAY_URL}/health/live", timeout=2, trust_env=False)
    except httpx.HTTPError:
        pytest.skip("the gateway is not answering on 127.0.0.1:8000: `inv up --profile core`")


def test_dive_reads_a_production_image() -> None:
    image = f"{PROJECT}/api-gateway:latest"
    if not engine.client().images.list(name=image):
        pytest.skip(f"no {image}: `inv build --services api-gateway`")
    figures = bench_resources.layers(["api-gateway"])["api-gateway"]
    assert 0 < figures["efficiency"] <= 1
    assert figures["wasted_mb"] >= 0
    assert figures["image_mb"] > 0


def test_memory_and_a_short_load_on_the_gateway(core, gateway_up) -> None:
    scenario = loadgen.Scenario("health_live", "GET", "/health/live", limited=False)
    figures = {}

    def load() -> None:
        figures.update(
            asyncio.run(
                loadgen.http_load(
                    scenario, concurrency=4, seconds=2, max_requests=2000, warmup_seconds=0.5
                )
            )
        )

    section = bench_resources.memory(core, ["api-gateway"], during=load, idle_samples=1)
    assert section["api-gateway"]["idle_mb"] > 0
    assert section["api-gateway"]["load_mb"] > 0
    assert figures["ok"] > 0 and figures["exceptions"] == 0
    assert figures["p50_ms"] <= figures["p95_ms"] <= figures["p99_ms"]
