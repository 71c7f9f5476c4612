"""What the gateway answers names no internal host: redirects point at its own public paths,
and its own error bodies name services, never their addresses."""

from urllib.parse import urlsplit

import pytest

from app.redirects import public_location

PUBLIC = ["echo-service", "slow-service", "down-service", "garbage-service", "models-service"]


@pytest.fixture
def gateway(make_gateway):
    return make_gateway(public_services=PUBLIC)


def test_a_trailing_slash_redirects_to_the_public_path(gateway, session, upstreams):
    response = gateway.get(
        "/api/models-service/models/?limit=5", headers=session.headers, follow_redirects=False
    )
    assert response.status_code == 307
    assert response.headers["location"] == "/api/models-service/models?limit=5"
    assert urlsplit(upstreams.models).netloc not in response.text
    followed = gateway.get(response.headers["location"], headers=session.headers)
    assert followed.status_code == 200
    assert followed.json() == {"models": [], "query": "limit=5"}


def test_a_path_absolute_location_gets_the_public_prefix(gateway, session):
    moved = gateway.get(
        "/api/models-service/moved", headers=session.headers, follow_redirects=False
    )
    assert moved.status_code == 308
    assert moved.headers["location"] == "/api/models-service/models?from=moved"
    created = gateway.post("/api/models-service/jobs", headers=session.headers)
    assert created.status_code == 202
    assert created.headers["location"] == "/api/models-service/jobs/7"


def test_a_location_elsewhere_is_left_alone(gateway, session):
    response = gateway.get(
        "/api/models-service/elsewhere", headers=session.headers, follow_redirects=False
    )
    assert response.status_code == 302
    assert response.headers["location"] == "https://example.org/docs"


def test_user_service_redirects_stay_under_auth(make_gateway, upstreams, session):
    gateway = make_gateway(upstreams={"user-service": upstreams.models}, public_services=[])
    response = gateway.get("/auth/me/", headers=session.headers, follow_redirects=False)
    assert response.status_code == 307
    assert response.headers["location"] == "/auth/me"


@pytest.mark.parametrize(
    ("location", "public"),
    [
        ("http://ml:8006/models", "/api/ml/models"),
        ("HTTP://ML:8006/models?a=1#top", "/api/ml/models?a=1#top"),
        ("//ml:8006/models", "/api/ml/models"),
        ("http://ml:8006", "/api/ml"),
        ("/models", "/api/ml/models"),
        ("/", "/api/ml/"),
        # Relative references resolve against the public URL already; others are not ours.
        ("models", "models"),
        ("../x", "../x"),
        ("http://ml:9999/models", "http://ml:9999/models"),
        ("https://example.org/ml:8006", "https://example.org/ml:8006"),
    ],
)
def test_public_location(location, public):
    assert public_location(location, "http://ml:8006", "/api/ml") == public


def test_public_location_of_an_upstream_with_a_base_path():
    base = "http://ml:80/v1"
    assert public_location("http://ml/v1/models", base, "/api/ml") == "/api/ml/models"
    assert public_location("/v1/models", base, "/api/ml") == "/api/ml/models"
    assert public_location("/v10/models", base, "/api/ml") == "/v10/models"
    assert public_location("/auth/me", "http://users:8008", "") == "/auth/me"


@pytest.mark.parametrize("service", ["down-service", "slow-service", "garbage-service"])
def test_error_bodies_name_the_service_not_its_address(gateway, session, upstreams, service):
    response = gateway.get(f"/api/{service}/x", headers=session.headers)
    assert response.status_code in (502, 503, 504)
    assert response.json()["service"] == service
    assert "127.0.0.1" not in response.text
    for url in (upstreams.dead, upstreams.slow, upstreams.garbage):
        assert str(urlsplit(url).port) not in response.text


def test_health_names_no_upstream_address(make_gateway, upstreams):
    gateway = make_gateway(
        upstreams={"user-service": upstreams.dead, "slow-service": upstreams.silent},
        public_services=["slow-service"],
    )
    report = gateway.get("/health")
    checks = report.json()["checks"]
    assert checks["user-service"]["status"] == checks["slow-service"]["status"] == "degraded"
    assert "127.0.0.1" not in report.text
    for url, name in ((upstreams.dead, "user-service"), (upstreams.silent, "slow-service")):
        assert str(urlsplit(url).port) not in checks[name]["detail"]
