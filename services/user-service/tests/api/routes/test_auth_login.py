"""POST /auth/login: wrong credentials and the per-account and per-client rate limits."""

import time

import httpx
from fastapi.testclient import TestClient

from app.api.routes import auth
from app.core.config import Settings
from app.core.security import dummy_hash
from tests.utils import bearer, new_credentials, unique_address

INVALID = {"detail": "invalid username or password"}


def attempt(client: TestClient, username: str, password: str, address: str | None = None):
    headers = {"X-Forwarded-For": address} if address else {}
    return client.post(
        "/auth/login", json={"username": username, "password": password}, headers=headers
    )


def assert_retry_after(response, window: int) -> None:
    assert response.status_code == 429, response.text
    assert 1 <= int(response.headers["retry-after"]) <= window


def test_wrong_password_changes_nothing(
    client: TestClient, make_user, login, database: httpx.Client
) -> None:
    user = make_user()
    pair = login(user)
    before = database.get(f"/users/{user['id']}").json()

    response = attempt(client, user["username"], user["password"] + "x")
    assert response.status_code == 401
    assert response.json() == INVALID
    assert "set-cookie" not in response.headers

    assert database.get(f"/users/{user['id']}").json() == before
    assert client.get("/auth/me", headers=bearer(pair["access_token"])).status_code == 200
    assert attempt(client, user["username"], user["password"]).status_code == 200


def test_unknown_user_gets_the_same_answer(client: TestClient) -> None:
    credentials = new_credentials()
    impossible = f"no such name {credentials['username']}!"  # cannot even be a username
    for username in (credentials["username"], credentials["email"], impossible):
        response = attempt(client, username, credentials["password"])
        assert response.status_code == 401
        assert response.json() == INVALID


def test_overlong_password_is_just_wrong(client: TestClient, make_user) -> None:
    user = make_user()
    response = attempt(client, user["username"], user["password"] + "a" * 100)
    assert response.status_code == 401
    assert response.json() == INVALID


def test_account_limit(client: TestClient, make_user, settings: Settings) -> None:
    user = make_user()
    for _ in range(settings.login_max_failures_per_account):
        # Each from its own address: the account limit does not depend on where guesses come from.
        response = attempt(client, user["username"], "wrong-password-1", unique_address())
        assert response.status_code == 401
    blocked = attempt(client, user["username"], user["password"], unique_address())
    assert_retry_after(blocked, settings.login_window_seconds)
    assert "too many failed logins for this account" in blocked.json()["detail"]
    # The email names the same account, so it shares the budget.
    by_email = attempt(client, user["email"], user["password"], unique_address())
    assert_retry_after(by_email, settings.login_window_seconds)


def test_account_limit_applies_to_unknown_accounts_alike(
    client: TestClient, settings: Settings
) -> None:
    credentials = new_credentials()
    for _ in range(settings.login_max_failures_per_account):
        assert attempt(client, credentials["username"], "wrong-password-1").status_code == 401
    assert_retry_after(
        attempt(client, credentials["username"], "wrong-password-1"),
        settings.login_window_seconds,
    )


def test_success_clears_the_account_failures(
    client: TestClient, make_user, settings: Settings
) -> None:
    user = make_user()
    almost = settings.login_max_failures_per_account - 1
    for _ in range(2):
        for _ in range(almost):
            assert attempt(client, user["username"], "wrong-password-1").status_code == 401
        assert attempt(client, user["username"], user["password"]).status_code == 200


def test_client_limit(client: TestClient, settings: Settings) -> None:
    address = unique_address()
    for _ in range(settings.login_max_attempts_per_client):
        # A new unknown user each time, so only the per-client limit can trip.
        response = attempt(client, new_credentials()["username"], "wrong-password-1", address)
        assert response.status_code == 401
    blocked = attempt(client, new_credentials()["username"], "wrong-password-1", address)
    assert_retry_after(blocked, settings.login_window_seconds)
    assert "too many login attempts from this address" in blocked.json()["detail"]
    # The last X-Forwarded-For entry (the gateway's) counts; a client's own claims before it
    # cannot move it to a fresh budget.
    proxied = attempt(client, new_credentials()["username"], "x1", f"10.1.2.3, {address}")
    assert_retry_after(proxied, settings.login_window_seconds)
    # Another address is unaffected.
    other = attempt(client, new_credentials()["username"], "wrong-password-1", unique_address())
    assert other.status_code == 401


def test_limit_frees_when_the_window_passes(make_client) -> None:
    failures = 2
    client = make_client(login_window_seconds=1, login_max_failures_per_account=failures)
    credentials = new_credentials()
    assert client.post("/auth/register", json=credentials).status_code == 201
    for _ in range(failures):
        assert attempt(client, credentials["username"], "wrong-password-1").status_code == 401
    blocked = attempt(client, credentials["username"], credentials["password"])
    assert blocked.status_code == 429
    assert blocked.headers["retry-after"] == "1"
    time.sleep(1.1)
    assert attempt(client, credentials["username"], credentials["password"]).status_code == 200


def test_unknown_user_still_costs_a_bcrypt_check(
    client: TestClient, monkeypatch, settings: Settings
) -> None:
    checked: list[str] = []
    real = auth.verify_password_async

    async def spy(password: str, password_hash: str) -> bool:
        checked.append(password_hash)
        return await real(password, password_hash)

    monkeypatch.setattr(auth, "verify_password_async", spy)
    assert attempt(client, new_credentials()["username"], "wrong-password-1").status_code == 401
    assert checked == [dummy_hash(settings.bcrypt_rounds)]


def test_login_upgrades_a_cheaper_hash(make_client, database: httpx.Client) -> None:
    credentials = new_credentials()
    old = make_client(bcrypt_rounds=4)
    user = old.post("/auth/register", json=credentials).json()
    assert database.get(f"/users/{user['id']}").json()["password_hash"].startswith("$2b$04$")

    new = make_client(bcrypt_rounds=5)
    assert attempt(new, credentials["username"], credentials["password"]).status_code == 200
    upgraded = database.get(f"/users/{user['id']}").json()["password_hash"]
    assert upgraded.startswith("$2b$05$")
    assert attempt(new, credentials["username"], credentials["password"]).status_code == 200
