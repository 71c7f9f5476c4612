"""The runtime benchmarks against the real engine, briefly (well under a minute in all).

The core profile is brought up first when it is not running (as `inv up --profile core`
would); nothing here stops a container.
"""

import asyncio
import time

import httpx
import pytest

from toolkit import catalog, loadgen
from toolkit.bench.measure import resources as bench_resources
from toolkit.bench.measure import start as bench_start

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def core() -> catalog.Catalog:
    return catalog.load()


@pytest.fixture(scope="module")
def gateway_up(core) -> None:
    bench_start.ensure_up(core, "core")
    # Healthy inside the container can come a moment before the published port forwards
    # (seen once right after the image was rebuilt and the container replaced): wait for it.
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"{loadgen.GATEWAY_URL}/health/live", timeout=5, trust_env=False)
            return
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def test_dive_reads_a_production_image(core) -> None:
    bench_start.ensure_images(core, [core.service("api-gateway")])
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
