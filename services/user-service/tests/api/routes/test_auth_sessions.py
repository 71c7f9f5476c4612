"""Sessions end to end: login, /me, refresh rotation and reuse, logout."""

import json

import httpx
from fastapi.testclient import TestClient
from redis import Redis

from app.core.config import Settings
from tests.utils import bearer, claims_of, closed_port


def test_register_login_me_refresh_logout(
    client: TestClient, make_user, redis_client: Redis, settings: Settings
) -> None:
    user = make_user()
    response = client.post(
        "/auth/login", json={"username": user["username"], "password": user["password"]}
    )
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    pair = response.json()
    assert pair["token_type"] == "bearer"
    assert pair["expires_in"] == settings.access_token_ttl
    access, refresh = claims_of(pair["access_token"]), claims_of(pair["refresh_token"])
    assert access["type"] == "access" and refresh["type"] == "refresh"
    assert access["sub"] == refresh["sub"] == user["id"]
    assert access["sid"] == refresh["sid"]
    assert access["iss"] == "tiered-platform" and access["username"] == user["username"]
    assert access["exp"] - access["iat"] == settings.access_token_ttl
    assert refresh["exp"] - refresh["iat"] == settings.refresh_token_ttl

    sid = access["sid"]
    stored = redis_client.hgetall(f"session:{sid}")
    assert stored == {
        "user_id": user["id"],
        "username": user["username"],
        "refresh_jti": refresh["jti"],
    }
    assert settings.refresh_token_ttl - 10 < redis_client.ttl(f"session:{sid}")

    me = client.get("/auth/me", headers=bearer(pair["access_token"]))
    assert me.status_code == 200
    assert me.json() == {k: v for k, v in user.items() if k != "password"}

    rotated = client.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert rotated.status_code == 200
    new_pair = rotated.json()
    new_refresh = claims_of(new_pair["refresh_token"])
    assert new_refresh["sid"] == sid and new_refresh["jti"] != refresh["jti"]
    assert redis_client.hget(f"session:{sid}", "refresh_jti") == new_refresh["jti"]
    assert client.get("/auth/me", headers=bearer(new_pair["access_token"])).status_code == 200

    logout = client.post("/auth/logout", headers=bearer(new_pair["access_token"]))
    assert logout.status_code == 204
    assert not redis_client.exists(f"session:{sid}", f"session:{sid}:profile")
    for token in (new_pair["access_token"], pair["access_token"]):
        rejected = client.get("/auth/me", headers=bearer(token))
        assert rejected.status_code == 401
        assert rejected.json()["detail"] == "session revoked"
        assert rejected.headers["www-authenticate"].startswith("Bearer")
    again = client.post("/auth/refresh", json={"refresh_token": new_pair["refresh_token"]})
    assert again.status_code == 401
    assert client.post("/auth/logout", headers=bearer(new_pair["access_token"])).status_code == 401


def test_login_by_email_in_any_case(client: TestClient, make_user) -> None:
    user = make_user()
    response = client.post(
        "/auth/login", json={"username": user["email"].upper(), "password": user["password"]}
    )
    assert response.status_code == 200
    assert claims_of(response.json()["access_token"])["sub"] == user["id"]


def test_reused_refresh_token_revokes_the_session(
    client: TestClient, make_user, login, redis_client: Redis
) -> None:
    first = login(make_user())
    sid = claims_of(first["access_token"])["sid"]
    second = client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200
    second = second.json()

    replay = client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert replay.status_code == 401
    assert replay.json()["detail"] == "refresh token already used: session revoked"
    assert not redis_client.exists(f"session:{sid}")
    # The newest tokens die with the session, whoever holds them.
    latest = client.post("/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert latest.status_code == 401
    assert latest.json()["detail"] == "session revoked"
    assert client.get("/auth/me", headers=bearer(second["access_token"])).status_code == 401


def test_refresh_refuses_an_access_token(client: TestClient, make_user, login) -> None:
    pair = login(make_user())
    response = client.post("/auth/refresh", json={"refresh_token": pair["access_token"]})
    assert response.status_code == 401
    assert response.json()["detail"] == "invalid token: not a refresh token"
    # Nothing was revoked by the mistake.
    assert client.get("/auth/me", headers=bearer(pair["access_token"])).status_code == 200


def test_logout_ends_only_its_own_session(client: TestClient, make_user, login) -> None:
    user = make_user()
    laptop, phone = login(user), login(user)
    assert claims_of(laptop["access_token"])["sid"] != claims_of(phone["access_token"])["sid"]
    assert client.post("/auth/logout", headers=bearer(laptop["access_token"])).status_code == 204
    assert client.get("/auth/me", headers=bearer(laptop["access_token"])).status_code == 401
    assert client.get("/auth/me", headers=bearer(phone["access_token"])).status_code == 200


def test_me_serves_the_cached_profile_until_it_expires(
    client: TestClient, make_user, login, redis_client: Redis, settings: Settings
) -> None:
    user = make_user()
    pair = login(user)
    key = f"session:{claims_of(pair['access_token'])['sid']}:profile"
    assert client.get("/auth/me", headers=bearer(pair["access_token"])).status_code == 200
    assert 0 < redis_client.ttl(key) <= settings.profile_cache_ttl

    # A marker only the cache holds proves the next answer did not come from database-service.
    cached = json.loads(redis_client.get(key))
    redis_client.set(key, json.dumps({**cached, "email": "marker@example.com"}), keepttl=True)
    assert client.get("/auth/me", headers=bearer(pair["access_token"])).json()["email"] == (
        "marker@example.com"
    )
    redis_client.delete(key)
    assert (
        client.get("/auth/me", headers=bearer(pair["access_token"])).json()["email"]
        == (user["email"])
    )
    assert redis_client.exists(key)

    client.post("/auth/logout", headers=bearer(pair["access_token"]))
    assert not redis_client.exists(key)


def test_a_disabled_account_loses_its_sessions(
    client: TestClient, make_user, login, database: httpx.Client, redis_client: Redis
) -> None:
    user = make_user()
    first, second = login(user), login(user)
    patched = database.patch(f"/users/{user['id']}", json={"is_active": False})
    assert patched.status_code == 200, patched.text

    response = client.post(
        "/auth/login", json={"username": user["username"], "password": user["password"]}
    )
    assert response.status_code == 403
    assert response.json()["detail"] == "account is disabled"

    refresh = client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert refresh.status_code == 403
    assert client.get("/auth/me", headers=bearer(first["access_token"])).status_code == 401
    me = client.get("/auth/me", headers=bearer(second["access_token"]))
    assert me.status_code == 403
    assert not redis_client.exists(f"session:{claims_of(second['access_token'])['sid']}")


def test_replayed_refresh_token_revokes_even_without_database_service(
    client: TestClient, make_client, make_user, login, redis_client: Redis
) -> None:
    first = login(make_user())
    sid = claims_of(first["access_token"])["sid"]
    assert client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]}).is_success

    cut_off = make_client(database_service_url=f"http://127.0.0.1:{closed_port()}")
    replay = cut_off.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert replay.status_code == 401
    assert replay.json()["detail"] == "refresh token already used: session revoked"
    assert not redis_client.exists(f"session:{sid}")
