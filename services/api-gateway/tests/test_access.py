"""Roles: ACCESS_RULES say which role a route needs; the gateway refuses (403) before any
upstream is called and tells upstreams the caller's role in X-User-Role."""

import asyncio
import json
import uuid
from collections.abc import Iterator

import pytest
import redis
from pydantic import ValidationError
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from app.access import needed_role
from app.core.config import AccessRule, Settings
from tests.utils import Session, header_values, make_token

RULES = {
    "echo-service": [
        {"methods": ["GET"], "path": "/admin/open", "role": "user"},
        {"methods": ["POST", "DELETE"], "path": "/admin", "role": "admin"},
        {"methods": ["POST"], "path": "/models/*/promote", "role": "admin"},
        {"path": "/ws/echo", "role": "admin"},
        {"methods": ["GET"], "path": "/reports", "role": "admin"},
    ],
    "down-service": [{"methods": ["POST"], "path": "/x", "role": "admin"}],
}
PARSED = {name: [AccessRule(**rule) for rule in rules] for name, rules in RULES.items()}


@pytest.mark.parametrize(
    ("method", "path", "role"),
    [
        ("POST", "/admin", "admin"),
        ("POST", "/admin/", "admin"),
        ("DELETE", "/admin/jobs/7", "admin"),
        ("POST", "//admin", "admin"),  # empty segments do not hide a prefix
        ("GET", "/admin/x", "user"),
        ("POST", "/administer", "user"),  # a prefix of segments, not of characters
        ("GET", "/admin/open", "user"),  # first match wins
        ("POST", "/models/7/promote", "admin"),
        ("POST", "/models/7/promote/now", "admin"),
        ("POST", "/models/7", "user"),
        ("GET", "/ws/echo", "admin"),  # no methods: every method
        ("PUT", "/ws/echo", "admin"),
        ("HEAD", "/reports", "admin"),  # HEAD is a GET without the body
        ("GET", "/", "user"),
    ],
)
def test_the_first_matching_rule_names_the_role(method, path, role):
    assert needed_role(PARSED["echo-service"], method, path) == role


def test_a_service_without_rules_needs_a_user():
    assert needed_role([], "DELETE", "/anything") == "user"


def test_access_rules_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("UPSTREAMS", '{"user-service": "http://u:8008", "orders": "http://o:80"}')
    monkeypatch.setenv("PUBLIC_SERVICES", '["orders"]')
    monkeypatch.setenv(
        "ACCESS_RULES", '{"orders": [{"methods": ["post"], "path": "/orders/", "role": "admin"}]}'
    )
    rules = Settings().access_rules
    assert rules == {"orders": [AccessRule(methods=["POST"], path="/orders", role="admin")]}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("{not json", "ACCESS_RULES is not valid JSON"),
        ('["orders"]', "ACCESS_RULES must be a JSON dict"),
        ('{"orders": [{"path": "/x", "role": "root"}]}', "role"),
        ('{"orders": [{"methods": ["POTS"], "path": "/x", "role": "admin"}]}', "methods"),
        ('{"orders": [{"path": "x", "role": "admin"}]}', "path"),
        ('{"ghost": []}', "ACCESS_RULES names ghost, which PUBLIC_SERVICES does not list"),
    ],
)
def test_bad_access_rules_are_refused_clearly(monkeypatch, value, message):
    monkeypatch.setenv("UPSTREAMS", '{"user-service": "http://u:8008", "orders": "http://o:80"}')
    monkeypatch.setenv("PUBLIC_SERVICES", '["orders"]')
    monkeypatch.setenv("ACCESS_RULES", value)
    with pytest.raises(ValidationError, match=message):
        Settings()


@pytest.fixture
def make_session(redis_client: redis.Redis) -> Iterator:
    """Sessions with a token carrying `role` (None: no claim); removed after the test."""
    keys: list[str] = []

    def make(role: object) -> Session:
        user_id, sid = str(uuid.uuid4()), uuid.uuid4().hex
        key = f"session:{sid}"
        redis_client.hset(key, mapping={"user_id": user_id, "username": "u", "refresh_jti": "x"})
        redis_client.expire(key, 600)
        keys.append(key)
        return Session(user_id, "u", sid, make_token(sub=user_id, sid=sid, username="u", role=role))

    yield make
    if keys:
        redis_client.delete(*keys)


@pytest.fixture
def guarded(make_gateway):
    return make_gateway(access_rules=RULES)


def test_a_user_is_refused_an_admin_route_before_the_upstream_is_called(guarded, make_session):
    user = make_session("user")
    refused = guarded.post("/api/echo-service/admin/reset", headers=user.headers)
    assert refused.status_code == 403
    assert refused.json() == {"detail": "POST /admin/reset on echo-service needs the admin role"}
    # down-service is unreachable: a 403 rather than a 503 shows nothing was sent there.
    assert guarded.post("/api/down-service/x", headers=user.headers).status_code == 403
    assert guarded.get("/api/echo-service/admin/reset", headers=user.headers).status_code == 200


def test_an_encoded_path_is_judged_as_the_upstream_reads_it(guarded, make_session):
    user = make_session("user")
    assert guarded.post("/api/echo-service/%61dmin", headers=user.headers).status_code == 403


def test_an_admin_passes_and_the_upstream_learns_the_role(guarded, make_session):
    admin = make_session("admin")
    echoed = guarded.post("/api/echo-service/admin/reset", headers=admin.headers)
    assert echoed.status_code == 200, echoed.text
    assert header_values(echoed.json(), "x-user-role") == ["admin"]
    assert header_values(echoed.json(), "x-user-id") == [admin.user_id]


def test_the_role_header_is_always_the_gateways(guarded, make_session):
    user = make_session("user")
    headers = {**user.headers, "X-User-Role": "admin"}
    echoed = guarded.get("/api/echo-service/anything", headers=headers).json()
    assert header_values(echoed, "x-user-role") == ["user"]
    assert guarded.post("/api/echo-service/admin", headers=headers).status_code == 403
    # Routes without an identity (login) get no role at all, whatever the client wrote.
    login = guarded.post("/auth/login", json={}, headers={"X-User-Role": "admin"}).json()
    assert header_values(login, "x-user-role") == []


def test_a_token_minted_before_roles_counts_as_a_user(guarded, make_session):
    legacy = make_session(None)
    echoed = guarded.get("/api/echo-service/anything", headers=legacy.headers).json()
    assert header_values(echoed, "x-user-role") == ["user"]
    assert guarded.post("/api/echo-service/admin", headers=legacy.headers).status_code == 403


@pytest.mark.parametrize("role", ["root", "", 3])
def test_a_token_with_an_unknown_role_is_invalid(guarded, make_session, role):
    response = guarded.get("/api/echo-service/anything", headers=make_session(role).headers)
    assert response.status_code == 401
    assert "role" in response.json()["detail"]


async def test_websockets_follow_the_rules_too(make_live_gateway, make_session):
    url = f"{make_live_gateway(access_rules=RULES)}/api/echo-service/ws/echo"
    user, admin = make_session("user"), make_session("admin")
    with pytest.raises(InvalidStatus) as caught:
        async with connect(url, additional_headers=user.headers, open_timeout=5):
            pass
    assert caught.value.response.status_code == 403
    assert json.loads(caught.value.response.body) == {
        "detail": "GET /ws/echo on echo-service needs the admin role"
    }
    async with connect(url, additional_headers=admin.headers, open_timeout=5) as ws:
        hello = json.loads(await asyncio.wait_for(ws.recv(), 5))
    assert header_values(hello, "x-user-role") == ["admin"]
