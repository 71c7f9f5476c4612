"""The core tier's job, through the gateway only: a user's whole session, and bad input."""

import time

import httpx
import pytest

from tests.e2e.conftest import bearer, make_token, new_user, register_and_login

pytestmark = pytest.mark.docker


def test_session_lifecycle(gateway: httpx.Client) -> None:
    user, tokens = register_and_login(gateway)
    # An authorized call that reaches database-service (user-service reads the stored user).
    me = gateway.get("/auth/me", headers=bearer(tokens["access_token"]))
    assert me.status_code == 200, me.text
    assert me.json()["username"] == user["username"]
    assert me.json()["email"] == user["email"]
    assert me.headers.get("x-request-id")

    refreshed = gateway.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.text
    fresh = refreshed.json()
    assert gateway.get("/auth/me", headers=bearer(fresh["access_token"])).status_code == 200

    assert gateway.post("/auth/logout", headers=bearer(fresh["access_token"])).status_code == 204
    for token in (fresh["access_token"], tokens["access_token"]):
        rejected = gateway.get("/auth/me", headers=bearer(token))
        assert rejected.status_code == 401, rejected.text
    again = gateway.post("/auth/refresh", json={"refresh_token": fresh["refresh_token"]})
    assert again.status_code == 401


def test_wrong_password_is_401_and_changes_nothing(gateway: httpx.Client) -> None:
    user, _ = register_and_login(gateway)
    wrong = gateway.post(
        "/auth/login", json={"username": user["username"], "password": "nope-12345"}
    )
    assert wrong.status_code == 401
    right = gateway.post(
        "/auth/login", json={"username": user["username"], "password": user["password"]}
    )
    assert right.status_code == 200


def test_forged_and_expired_tokens_are_rejected(gateway: httpx.Client, jwt_secret: str) -> None:
    _, tokens = register_and_login(gateway)
    claims = {"sub": "00000000-0000-0000-0000-000000000000", "username": "x", "sid": "nope"}
    forged = make_token("not-the-secret-" * 3, **claims)
    assert gateway.get("/auth/me", headers=bearer(forged)).status_code == 401
    expired = make_token(jwt_secret, exp=int(time.time()) - 60, **claims)
    response = gateway.get("/auth/me", headers=bearer(expired))
    assert response.status_code == 401
    assert response.headers.get("www-authenticate", "").lower().startswith("bearer")
    assert gateway.get("/auth/me", headers=bearer("garbage")).status_code == 401
    assert gateway.get("/auth/me").status_code == 401
    # A real token still works: the rejections above were about the tokens, not the stack.
    assert gateway.get("/auth/me", headers=bearer(tokens["access_token"])).status_code == 200


def test_malformed_and_oversized_bodies_are_4xx(gateway: httpx.Client) -> None:
    malformed = gateway.post(
        "/auth/login",
        content=b'{"username": "a", "pass',
        headers={"content-type": "application/json"},
    )
    assert malformed.status_code == 400, malformed.text
    huge = gateway.post(
        "/auth/register",
        content=b"x" * (2 * 1024 * 1024),
        headers={"content-type": "application/json"},
    )
    assert huge.status_code == 413, huge.text
    assert gateway.post("/auth/register", json={"username": "a"}).status_code == 422


def test_duplicate_registration_stores_nothing_half_way(gateway: httpx.Client) -> None:
    user, _ = register_and_login(gateway)
    other = new_user()
    clash = gateway.post("/auth/register", json={**other, "username": user["username"]})
    assert clash.status_code == 409, clash.text
    # The clashing attempt's email was not kept: a new account can still use it.
    assert gateway.post("/auth/register", json=other).status_code == 201


def test_internal_data_api_is_not_routed(gateway: httpx.Client) -> None:
    _, tokens = register_and_login(gateway)
    response = gateway.get("/api/database-service/users", headers=bearer(tokens["access_token"]))
    assert response.status_code == 404
    assert "database-service" in response.text


def test_login_rate_limit_per_account(gateway: httpx.Client) -> None:
    user, _ = register_and_login(gateway)
    statuses = [
        gateway.post(
            "/auth/login", json={"username": user["username"], "password": "bad-pass-123"}
        ).status_code
        for _ in range(8)
    ]
    assert statuses[0] == 401
    assert 429 in statuses
    limited = gateway.post("/auth/login", json={"username": user["username"], "password": "x" * 12})
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) > 0
