"""ai-orchestration in process: the prompt, the cache key, a cache hit and a whole brief
against the real services."""

from fastapi.testclient import TestClient

from app.cache import cache_key
from app.workflows.prompt import brief_messages
from tests.workflows.samples import INPUTS, PARTS

MISSING = [{"part": "forecast", "service": "deep-learning", "reason": "not running"}]


def test_prompt_assembly(benchmark) -> None:
    _system, user = benchmark(brief_messages, INPUTS, PARTS, MISSING)
    assert user["content"].endswith("- missing: forecast (not running)")


def test_cache_key(benchmark) -> None:
    key = benchmark(cache_key, "market-brief", INPUTS, PARTS["candles"])
    assert len(key) > 64


def test_market_brief_cache_hit(benchmark, client: TestClient, eurusd: str) -> None:
    """The candles step and a Redis read: what a repeated request costs."""
    body = {"symbol": eurusd, "candles": 200}
    assert client.post("/workflows/market-brief", json=body).status_code == 200

    def hit() -> dict:
        return client.post("/workflows/market-brief", json=body).json()

    assert benchmark(hit)["cached"] is True


def test_market_brief_uncached(benchmark, client: TestClient, eurusd: str) -> None:
    """Every step against the real services (ai-provider included), the cache bypassed."""
    body = {"symbol": eurusd, "cache": False}

    def run() -> dict:
        response = client.post("/workflows/market-brief", json=body)
        assert response.status_code == 200, response.text
        return response.json()

    assert benchmark(run)["cached"] is False
