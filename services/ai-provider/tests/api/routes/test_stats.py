"""GET /stats: its shape, and counters shared through Redis by every worker."""

from fastapi.testclient import TestClient

import servicekit_testing as testing
from app.core.config import Settings
from app.main import build_app
from tests.utils import ADMIN


def test_stats_start_empty(make_client):
    stats = make_client().get("/stats", headers=ADMIN).json()

    assert stats == {
        "scope": "all",
        "cache": {
            "exact_hits": 0,
            "semantic_hits": 0,
            "misses": 0,
            "hit_rate": 0.0,
            "semantic_enabled": False,
        },
        "requests": 0,
        "fallbacks": 0,
        "failures": {},
        "cost": {"by_model": {}, "by_user": {}},
        "latency_ms": {},
        "tracing": "off",
    }


def test_two_workers_share_the_cache_and_counters(make_client):
    first = make_client()
    settings: Settings = first.app.state.settings
    # A second app on the same Redis prefix stands for uvicorn's second worker.
    with TestClient(build_app(settings, {}), headers=testing.internal_headers()) as second:
        sent = {"model": "auto", "messages": [{"role": "user", "content": "shared?"}]}
        assert first.post("/v1/chat/completions", json=sent).headers["X-Cache"] == "miss"
        assert second.post("/v1/chat/completions", json=sent).headers["X-Cache"] == "exact"
        for client in (first, second):
            stats = client.get("/stats", headers=ADMIN).json()
            assert stats["requests"] == 2
            assert stats["cache"]["hit_rate"] == 0.5
            assert stats["cost"]["by_model"]["offline-template"]["requests"] == 1
