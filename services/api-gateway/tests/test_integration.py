"""End to end against a real user-service (and the database-service behind it).

Runs only when USER_SERVICE_URL is set (CI does, on the compose network); the gateway runs
in-process and must share JWT_SECRET and REDIS_URL with that user-service.
"""

import os
import uuid

import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.main import create_gateway
from tests.utils import unique_peer

USER_SERVICE_URL = os.environ.get("USER_SERVICE_URL", "")

pytestmark = pytest.mark.skipif(
    not USER_SERVICE_URL,
    reason="USER_SERVICE_URL is not set: no real user-service to test against",
)


@pytest.fixture
def gateway():
    settings = Settings(upstreams={"user-service": USER_SERVICE_URL}, public_services=[])
    with TestClient(create_gateway(settings), client=unique_peer()) as client:
        yield client


def test_register_login_me_logout_through_the_gateway(gateway):
    username = f"gw-{uuid.uuid4().hex[:12]}"
    password = f"Gateway-{uuid.uuid4().hex[:8]}-42"
    registered = gateway.post(
        "/auth/register",
        json={"username": username, "email": f"{username}@example.com", "password": password},
    )
    assert registered.status_code == 201, registered.text
    assert registered.json()["username"] == username

    login = gateway.post("/auth/login", json={"username": username, "password": password})
    assert login.status_code == 200, login.text
    tokens = login.json()
    auth = {"Authorization": f"Bearer {tokens['access_token']}"}

    me = gateway.get("/auth/me", headers=auth)
    assert me.status_code == 200, me.text
    assert me.json()["username"] == username
    assert me.json()["id"] == registered.json()["id"]

    logout = gateway.post("/auth/logout", headers=auth)
    assert logout.status_code in (200, 204), logout.text

    after = gateway.get("/auth/me", headers=auth)
    assert after.status_code == 401
    assert after.json()["detail"] == "session revoked"
    # The refresh token died with the session too.
    refreshed = gateway.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 401


def test_gateway_health_sees_user_service(gateway):
    check = gateway.get("/health").json()["checks"]["user-service"]
    # "degraded" may come from user-service's own backends; unreachable is our problem.
    assert check["status"] == "ok" or not (check["detail"] or "").startswith("unreachable"), check
