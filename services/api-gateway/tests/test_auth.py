"""Authentication at the gateway: open routes, bearer tokens, sessions, the session store."""

import pytest

from tests.utils import SECRET, make_token


@pytest.mark.parametrize("path", ["register", "login", "refresh"])
def test_open_auth_routes_pass_without_token(gateway, path):
    response = gateway.post(f"/auth/{path}", json={"username": "alice"})
    assert response.status_code == 200
    echoed = response.json()
    assert echoed["method"] == "POST"
    assert echoed["path"] == f"/auth/{path}"
    assert echoed["body"] == '{"username":"alice"}'


@pytest.mark.parametrize("path", ["/auth/me", "/auth/logout", "/auth/", "/api/echo-service/items"])
def test_protected_routes_without_token_are_401(gateway, path):
    response = gateway.get(path)
    assert response.status_code == 401
    assert response.json() == {"detail": "missing bearer token"}
    assert response.headers["www-authenticate"] == "Bearer"


def test_non_bearer_authorization_is_401(gateway):
    response = gateway.get("/auth/me", headers={"Authorization": "Basic YWxpY2U6cHc="})
    assert response.status_code == 401
    assert response.json()["detail"] == "missing bearer token"


def test_valid_token_with_live_session_passes(gateway, session):
    response = gateway.get("/auth/me", headers=session.headers)
    assert response.status_code == 200
    assert response.json()["path"] == "/auth/me"


@pytest.mark.parametrize(
    ("token_kwargs", "detail"),
    [
        ({"secret": "another-secret-0123456789abcdef012345"}, "invalid token"),
        ({"expires_in": -60}, "token expired"),
        ({"issuer": "someone-else"}, "invalid token"),
        ({"token_type": "refresh"}, "invalid token: not an access token"),
    ],
    ids=["forged", "expired", "wrong-issuer", "refresh-token"],
)
def test_bad_tokens_are_401(gateway, session, token_kwargs, detail):
    # The session exists, so only the token itself can be what is refused.
    token = make_token(sub=session.user_id, sid=session.sid, **token_kwargs)
    response = gateway.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.json()["detail"].startswith(detail)
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_unsigned_token_is_401(gateway, session):
    import jwt

    token = jwt.encode(
        {"sub": session.user_id, "sid": session.sid, "type": "access", "iss": "tiered-platform"},
        key=None,
        algorithm="none",
    )
    response = gateway.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.json()["detail"].startswith("invalid token")


@pytest.mark.parametrize("garbage", ["not-a-jwt", "a.b.c", "Bearer", "ü.ü.ü"])
def test_garbage_tokens_are_401_not_500(gateway, garbage):
    response = gateway.get("/auth/me", headers={"Authorization": f"Bearer {garbage}".encode()})
    assert response.status_code == 401
    assert response.json()["detail"].startswith("invalid token")


def test_deleted_session_is_401(gateway, session, redis_client):
    assert gateway.get("/auth/me", headers=session.headers).status_code == 200
    redis_client.delete(f"session:{session.sid}")  # what logout does
    response = gateway.get("/auth/me", headers=session.headers)
    assert response.status_code == 401
    assert response.json() == {"detail": "session revoked"}
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_token_for_unknown_session_is_401(gateway):
    token = make_token(secret=SECRET)  # well signed, but no such session was ever created
    response = gateway.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.json()["detail"] == "session revoked"


def test_redis_down_fails_closed_for_auth_and_open_for_rate_limit(make_gateway, upstreams, session):
    # Port of a refused connection: the session store is unreachable.
    gateway = make_gateway(redis_url=upstreams.dead.replace("http", "redis") + "/0")
    response = gateway.get("/auth/me", headers=session.headers)
    assert response.status_code == 503
    assert response.json() == {"detail": "session store unavailable"}
    # The rate limiter cannot count either, and lets open routes through.
    assert gateway.post("/auth/login", json={}).status_code == 200


def test_dot_segments_are_refused(gateway):
    response = gateway.get("/auth/login/%2e%2e/me")
    assert response.status_code == 400
    assert "segments" in response.json()["detail"]
