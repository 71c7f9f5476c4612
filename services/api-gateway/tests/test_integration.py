"""End to end against a real user-service (and the database-service behind it).

Runs only when USER_SERVICE_URL is set (CI does, on the compose network); the gateway runs
in-process and must share JWT_SECRET and REDIS_URL with that user-service.
"""

import os
import secrets
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


@pytest.fixture
def behind_proxy():
    """The gateway behind a load balancer it trusts: clients are told apart by X-Forwarded-For."""
    settings = Settings(
        upstreams={"user-service": USER_SERVICE_URL},
        public_services=[],
        trusted_proxies=["10.0.0.0/8"],
    )
    with TestClient(create_gateway(settings), client=unique_peer()) as client:
        yield client


def behind(client_address: str) -> dict[str, str]:
    return {"X-Forwarded-For": client_address}


def new_client() -> str:
    return f"2001:db8:{secrets.token_hex(2)}:{secrets.token_hex(2)}::1"


def register(gateway) -> tuple[str, str]:
    username = f"gw-{uuid.uuid4().hex[:12]}"
    password = f"Gateway-{uuid.uuid4().hex[:8]}-42"
    body = {"username": username, "email": f"{username}@example.com", "password": password}
    assert gateway.post("/auth/register", json=body).status_code == 201
    return username, password


def login(gateway, username: str, password: str, headers: dict | None = None):
    body = {"username": username, "password": password}
    return gateway.post("/auth/login", json=body, headers=headers or {})


def test_clients_behind_one_proxy_keep_their_own_login_budgets(behind_proxy):
    username, password = register(behind_proxy)
    attacker = behind(new_client())
    statuses = [login(behind_proxy, username, "wrong-password-1", attacker) for _ in range(8)]
    assert statuses[0].status_code == 401
    assert statuses[-1].status_code == 429, statuses[-1].text
    # The owner, another client behind the same proxy, is not locked out of their account.
    assert login(behind_proxy, username, password, behind(new_client())).status_code == 200
    # Other users' successful logins never use up a client's budget.
    shared = behind(new_client())
    for _ in range(3):
        other, other_password = register(behind_proxy)
        assert login(behind_proxy, other, other_password, shared).status_code == 200


def test_an_untrusted_peer_cannot_pick_a_fresh_address(gateway):
    username, _ = register(gateway)
    statuses = [
        login(gateway, username, "wrong-password-1", behind(new_client())).status_code
        for _ in range(8)
    ]
    assert statuses[0] == 401
    assert statuses[-1] == 429


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
