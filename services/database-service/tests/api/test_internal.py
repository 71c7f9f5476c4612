"""The guard and the edges of the data API: token, malformed input, oversized bodies."""

import uuid

import pytest
from fastapi.testclient import TestClient

import servicekit_testing as testing
from app.core.config import Settings
from app.main import build_app
from servicekit.internal import credential, digest
from tests.utils import new_user

ROUTES = [
    ("POST", "/users"),
    ("GET", f"/users/{uuid.uuid4()}"),
    ("GET", "/users/by-username/someone"),
    ("GET", "/users/by-email/someone@example.test"),
    ("PATCH", f"/users/{uuid.uuid4()}"),
    ("POST", "/market/ticks"),
    ("POST", "/market/candles"),
    ("GET", "/market/candles?symbol=AAA&interval=1m"),
    ("GET", "/market/ticks/count"),
    ("GET", "/market/symbols"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
@pytest.mark.parametrize(
    "headers",
    [{}, {"x-internal-token": ""}, {"x-internal-token": "wrong"}, {"x-internal-token": "é"}],
    ids=["missing", "empty", "wrong", "non-ascii"],
)
def test_requests_without_the_token_are_401(
    client: TestClient, method: str, path: str, headers: dict[str, str]
) -> None:
    body = new_user() if method == "POST" else {"is_active": False}
    encoded = {k: v.encode() for k, v in headers.items()}
    response = client.request(method, path, json=body, headers=encoded)
    assert response.status_code == 401
    assert response.json() == {"detail": "missing or invalid internal credential"}


def test_a_refused_create_stores_nothing(client: TestClient, auth: dict[str, str]) -> None:
    body = new_user()
    assert client.post("/users", json=body, headers={"x-internal-token": "x"}).status_code == 401
    response = client.get(f"/users/by-username/{body['username']}", headers=auth)
    assert response.status_code == 404


def test_the_token_is_checked_before_the_body(client: TestClient) -> None:
    # An unauthenticated caller learns nothing about validation: 401, not 400 or 422.
    response = client.post(
        "/users", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 401
    response = client.patch("/users/not-a-uuid", json={})
    assert response.status_code == 401
    response = client.get("/market/candles?interval=never")
    assert response.status_code == 401


def test_health_needs_no_token(client: TestClient) -> None:
    assert client.get("/health").status_code == 200


def test_malformed_json_is_400(client: TestClient, auth: dict[str, str]) -> None:
    headers = {**auth, "content-type": "application/json"}
    for method, path in (("POST", "/users"), ("PATCH", f"/users/{uuid.uuid4()}")):
        response = client.request(method, path, content=b'{"username": ', headers=headers)
        assert response.status_code == 400, (method, response.text)
        assert response.json() == {"detail": "request body is not valid JSON"}


def test_oversized_body_is_413(
    client: TestClient, auth: dict[str, str], settings: Settings
) -> None:
    body = new_user(password_hash="x" * (settings.max_body_bytes + 1))
    response = client.post("/users", json=body, headers=auth)
    assert response.status_code == 413
    response = client.get(f"/users/by-username/{body['username']}", headers=auth)
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/users/not-a-uuid"),
        ("GET", "/users/1234"),
        ("GET", "/users/by-username"),
        ("PATCH", "/users/not-a-uuid"),
        ("PATCH", "/users/00000000-0000-0000-0000-00000000000g"),
    ],
)
def test_malformed_ids_are_422(
    client: TestClient, auth: dict[str, str], method: str, path: str
) -> None:
    response = client.request(method, path, json={"is_active": True}, headers=auth)
    assert response.status_code == 422, response.text


@pytest.mark.parametrize(
    "path",
    [
        "/users/by-username/a%00b",  # PostgreSQL text cannot hold NUL: must not reach it
        "/users/by-username/with%20space",
        f"/users/by-username/{'x' * 65}",
        "/users/by-email/no-at-sign",
        "/users/by-email/a%01@example.test",
        f"/users/by-email/{'x' * 250}@example.test",
    ],
)
def test_malformed_lookups_are_422(client: TestClient, auth: dict[str, str], path: str) -> None:
    response = client.get(path, headers=auth)
    assert response.status_code == 422, response.text


@pytest.mark.parametrize(
    "overrides",
    [
        {"username": ""},
        {"username": "has space"},
        {"username": "nul\x00byte"},
        {"username": "x" * 65},
        {"email": "no-at-sign"},
        {"email": "two@@example.test"},
        {"email": "x" * 250 + "@example.test"},
        {"password_hash": ""},
        {"password_hash": "has space"},
        {"password_hash": "x" * 256},
        {"is_active": "false"},
        {"id": str(uuid.uuid4())},
    ],
)
def test_invalid_create_bodies_are_422_and_store_nothing(
    client: TestClient, auth: dict[str, str], overrides: dict
) -> None:
    body = {**new_user(), **overrides}
    response = client.post("/users", json=body, headers=auth)
    assert response.status_code == 422, response.text
    if "username" not in overrides:
        lookup = client.get(f"/users/by-username/{body['username']}", headers=auth)
        assert lookup.status_code == 404


def test_missing_create_fields_are_422(client: TestClient, auth: dict[str, str]) -> None:
    for missing in ("username", "email", "password_hash"):
        body = new_user()
        del body[missing]
        response = client.post("/users", json=body, headers=auth)
        assert response.status_code == 422, missing


def test_no_configured_callers_refuses_everyone(settings: Settings) -> None:
    app = build_app(settings.model_copy(update={"internal_callers": {}}))
    with TestClient(app, headers=testing.internal_headers()) as client:
        response = client.get(f"/users/{uuid.uuid4()}", headers={"x-internal-token": ""})
        assert response.status_code == 401
        response = client.get(f"/users/{uuid.uuid4()}")  # the operator's credential
        assert response.status_code == 401
        assert client.get("/health").status_code == 200


def _as_caller(settings: Settings, name: str) -> tuple[TestClient, dict[str, str]]:
    """The app with `name` holding a secret of the test's own, held to the routes the
    catalog gives it (as compose handed them to this container in INTERNAL_CALLERS)."""
    secret = f"test-{name}-{uuid.uuid4().hex}"
    entry = {**settings.internal_callers[name], "sha256": digest(secret)}
    callers = {**settings.internal_callers, name: entry}
    app = build_app(settings.model_copy(update={"internal_callers": callers}))
    return TestClient(app), {"x-internal-token": credential(name, secret)}


@pytest.mark.parametrize("caller", ["data-bridge", "trading-engine", "ml-processing"])
def test_only_user_service_reaches_users(settings: Settings, caller: str) -> None:
    client, headers = _as_caller(settings, caller)
    with client:
        for method, path in ROUTES:
            if not path.startswith("/users"):
                continue
            response = client.request(method, path, json=new_user(), headers=headers)
            assert response.status_code == 403, (caller, method, path)
            assert response.json()["detail"].startswith(f"{caller} may not call {method} /users")


def test_user_service_reaches_users_and_not_the_market(settings: Settings) -> None:
    client, headers = _as_caller(settings, "user-service")
    with client:
        body = new_user()
        assert client.post("/users", json=body, headers=headers).status_code == 201
        found = client.get(f"/users/by-username/{body['username']}", headers=headers)
        assert found.status_code == 200
        assert client.get("/market/symbols", headers=headers).status_code == 403


def test_readers_of_candles_may_not_write_ticks(settings: Settings) -> None:
    client, headers = _as_caller(settings, "trading-engine")
    with client:
        read = client.get("/market/candles?symbol=AAA&interval=1m", headers=headers)
        assert read.status_code == 200
        assert client.post("/market/ticks", json={}, headers=headers).status_code == 403
