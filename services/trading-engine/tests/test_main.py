"""Health, and behaviour when a backend is missing: 503 without candles, slower without Redis."""

from fastapi.testclient import TestClient

from tests.utils import closed_port, unique_symbol


def test_health_sees_both_backends(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["service"] == "trading-engine"
    assert report["status"] == "ok"
    assert {name: check["status"] for name, check in report["checks"].items()} == {
        "redis": "ok",
        "database-service": "ok",
    }


def test_database_service_unreachable(make_client) -> None:
    client = make_client(database_service_url=f"http://127.0.0.1:{closed_port()}")
    health = client.get("/health")
    assert health.status_code == 503
    assert health.json()["checks"]["database-service"]["status"] == "down"
    requests = [
        ("GET", "/indicators", {"params": {"symbol": "ABC", "interval": "1h"}}),
        ("GET", "/signals", {"params": {"symbol": "ABC", "interval": "1h", "strategy": "ml"}}),
        ("POST", "/backtest", {"json": {"symbol": "ABC", "interval": "1h", "strategy": "ml"}}),
    ]
    for method, path, kwargs in requests:
        response = client.request(method, path, **kwargs)
        assert response.status_code == 503, response.text
        assert response.json()["detail"] == "market data unavailable, try again later"
        assert response.headers["retry-after"] == "1"


def test_wrong_internal_token_is_reported(make_client) -> None:
    client = make_client(internal_token="not-the-token")
    health = client.get("/health")
    assert health.status_code == 503
    assert "INTERNAL_TOKEN" in health.json()["checks"]["database-service"]["detail"]
    # A refused token reads as an outage, not as "no such symbol".
    query = {"symbol": unique_symbol(), "interval": "1h"}
    assert client.get("/indicators", params=query).status_code == 503


def test_signals_without_redis_are_computed_every_time(make_client, goog: str) -> None:
    client = make_client(redis_url=f"redis://127.0.0.1:{closed_port()}/0", redis_timeout=0.5)
    health = client.get("/health")
    # Only the cache is gone: degraded, still serving (200), so Docker keeps it in rotation.
    assert health.status_code == 200
    assert health.json()["status"] == "degraded"
    assert health.json()["checks"]["redis"]["status"] == "down"
    query = {"symbol": goog, "interval": "1d", "strategy": "bbands_reversion"}
    for _ in range(2):
        response = client.get("/signals", params=query)
        assert response.status_code == 200, response.text
        assert response.json()["cached"] is False
