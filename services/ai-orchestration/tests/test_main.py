"""The application: /health's critical and optional checks, and GET /workflows."""

from fastapi.testclient import TestClient

from tests.utils import closed_url


def test_health_checks_every_service(client: TestClient, optional_services: dict) -> None:
    response = client.get("/health")
    assert response.status_code == 200, response.text
    checks = response.json()["checks"]
    assert set(checks) == {
        "redis",
        "database-service",
        "ai-provider",
        "trading-engine",
        "ml-processing",
        "deep-learning",
    }
    for name in ("redis", "database-service", "trading-engine"):
        assert checks[name]["status"] == "ok", checks[name]
    for name, runs in optional_services.items():
        if runs:
            assert checks[name]["status"] in ("ok", "degraded"), checks[name]
        else:
            assert checks[name]["status"] == "degraded"
            assert "is not running" in checks[name]["detail"]


def test_optional_services_down_only_degrade(make_client) -> None:
    client = make_client(
        trading_engine_url=closed_url(),
        ml_processing_url=closed_url(),
        deep_learning_url=closed_url(),
    )
    response = client.get("/health")
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["status"] == "degraded"
    assert report["checks"]["deep-learning"] == {
        "status": "degraded",
        "latency_ms": report["checks"]["deep-learning"]["latency_ms"],
        "detail": "deep-learning is not running (tier 5; start it with inv up --profile full); "
        "briefs leave its part out",
    }
    assert report["checks"]["ml-processing"]["status"] == "degraded"
    assert report["checks"]["trading-engine"]["status"] == "degraded"


def test_without_a_writer_or_candles_the_service_is_down(make_client) -> None:
    for broken in ({"ai_provider_url": closed_url()}, {"database_service_url": closed_url()}):
        response = make_client(**broken).get("/health")
        assert response.status_code == 503, broken
        assert response.json()["status"] == "down"


def test_redis_down_only_degrades(make_client) -> None:
    response = make_client(redis_url="redis://127.0.0.1:1/0").get("/health")
    assert response.status_code == 200
    assert response.json()["checks"]["redis"]["status"] == "down"


def test_workflows_lists_the_steps(client: TestClient, settings) -> None:
    (workflow,) = client.get("/workflows").json()
    assert workflow["name"] == "market-brief"
    assert workflow["path"] == "/workflows/market-brief"
    steps = {step["name"]: step for step in workflow["steps"]}
    assert list(steps) == ["candles", "indicators", "signal", "prediction", "forecast", "brief"]
    assert {name: (s["service"], s["optional"]) for name, s in steps.items()} == {
        "candles": ("database-service", False),
        "indicators": ("trading-engine", True),
        "signal": ("trading-engine", True),
        "prediction": ("ml-processing", True),
        "forecast": ("deep-learning", True),
        "brief": ("ai-provider", False),
    }
    assert steps["forecast"]["timeout_s"] == settings.step_timeout
    assert steps["brief"]["after"] == ["indicators", "signal", "prediction", "forecast"]
