"""GET /health: Redis is critical, upstreams only degrade."""

import time


def test_health_ok_when_everything_answers(make_gateway, upstreams):
    gateway = make_gateway(
        upstreams={"user-service": upstreams.echo, "slow-service": upstreams.slow},
        public_services=["slow-service"],
    )
    response = gateway.get("/health")
    assert response.status_code == 200
    report = response.json()
    assert report["service"] == "api-gateway"
    assert report["status"] == "ok"
    assert set(report["checks"]) == {"redis", "user-service", "slow-service"}


def test_health_degraded_when_an_upstream_is_down(gateway):
    response = gateway.get("/health")
    assert response.status_code == 200
    report = response.json()
    assert report["status"] == "degraded"
    down = report["checks"]["down-service"]
    assert down["status"] == "degraded"
    assert down["detail"].startswith("unreachable")
    assert report["checks"]["redis"]["status"] == "ok"
    assert report["checks"]["echo-service"]["status"] == "ok"


def test_health_down_when_redis_is_down(make_gateway, upstreams):
    gateway = make_gateway(redis_url=upstreams.dead.replace("http", "redis"))
    response = gateway.get("/health")
    assert response.status_code == 503
    report = response.json()
    assert report["status"] == "down"
    assert report["checks"]["redis"]["status"] == "down"


def test_health_is_bounded_in_time(make_gateway, upstreams):
    # An upstream that accepts but never answers /health must not stall the report.
    gateway = make_gateway(upstreams={"user-service": upstreams.silent}, public_services=[])
    started = time.monotonic()
    report = gateway.get("/health").json()
    assert time.monotonic() - started < 2.5
    check = report["checks"]["user-service"]
    assert check["status"] == "degraded"
    assert "Timeout" in check["detail"]
