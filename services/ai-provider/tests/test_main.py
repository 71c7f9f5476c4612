"""GET /health: Redis critical, deep-learning only degrading."""

from tests.fakes import free_port


def test_healthy_with_redis_and_deep_learning(make_client, deep_learning):
    response = make_client(deep_learning_url=deep_learning.url).get("/health")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"redis", "deep-learning"}


def test_deep_learning_down_is_degraded_never_down(make_client):
    response = make_client().get("/health")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["deep-learning"]["status"] == "degraded"
    assert "semantic cache off" in body["checks"]["deep-learning"]["detail"]
    assert body["checks"]["redis"]["status"] == "ok"


def test_redis_down_is_down_and_requests_get_503(make_client, deep_learning):
    client = make_client(
        redis_url=f"redis://127.0.0.1:{free_port()}/0",
        deep_learning_url=deep_learning.url,
        redis_timeout=0.5,
    )

    assert client.get("/health").status_code == 503
    response = client.post(
        "/v1/chat/completions",
        json={"model": "auto", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert response.status_code == 503
    assert "Redis" in response.json()["detail"]
