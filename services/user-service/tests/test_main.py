"""Health and behaviour when a backend is missing: 503s, never 500s."""

from fastapi.testclient import TestClient

from tests.utils import closed_port, new_credentials


def test_health_sees_both_backends(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["service"] == "user-service"
    assert set(report["checks"]) == {"redis", "database-service"}
    assert report["checks"]["redis"]["status"] == "ok"
    assert report["checks"]["database-service"]["status"] in ("ok", "degraded")


def test_database_service_unreachable(make_client) -> None:
    client = make_client(database_service_url=f"http://127.0.0.1:{closed_port()}")
    health = client.get("/health")
    assert health.status_code == 503
    assert health.json()["checks"]["database-service"]["status"] == "down"
    credentials = new_credentials()
    for path in ("/auth/register", "/auth/login"):
        response = client.post(path, json=credentials)
        assert response.status_code == 503, response.text
        assert response.json()["detail"] == "user store unavailable, try again later"


def test_wrong_internal_token_is_reported(make_client) -> None:
    client = make_client(internal_token="not-the-token")
    health = client.get("/health")
    assert health.status_code == 503
    assert "INTERNAL_TOKEN" in health.json()["checks"]["database-service"]["detail"]
    # A refused token must read as an outage, not as "no such user".
    for path in ("/auth/register", "/auth/login"):
        assert client.post(path, json=new_credentials()).status_code == 503


def test_redis_unreachable(make_client) -> None:
    client = make_client(redis_url=f"redis://127.0.0.1:{closed_port()}/0", redis_timeout=0.5)
    health = client.get("/health")
    assert health.status_code == 503
    assert health.json()["checks"]["redis"]["status"] == "down"
    response = client.post("/auth/login", json=new_credentials())
    assert response.status_code == 503
    assert response.json()["detail"] == "session store unavailable, try again later"
