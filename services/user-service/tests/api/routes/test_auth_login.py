"""POST /auth/login: wrong credentials, and the limits on failed logins.

Failures count per (account, client), per client across accounts, and per account across
clients (a high ceiling that spares the clients that logged in to it before). Successful
logins count nowhere, and a refused attempt costs no bcrypt check.
"""

import time

import httpx
import pytest
from fastapi.testclient import TestClient

import servicekit_testing as testing
from app.api.routes import auth
from app.core.config import Settings
from app.core.security import dummy_hash
from app.main import build_app
from tests.utils import bearer, new_credentials, unique_address, via_gateway

INVALID = {"detail": "invalid username or password"}
FROM_ADDRESS = "too many failed logins from this address"
FOR_ACCOUNT_FROM_ADDRESS = "too many failed logins for this account from this address"
FOR_ACCOUNT = "too many failed logins for this account"


def attempt(client: TestClient, username: str, password: str, address: str | None = None):
    headers = via_gateway(address) if address else {}
    return client.post(
        "/auth/login", json={"username": username, "password": password}, headers=headers
    )


def assert_refused(response, window: int, detail: str) -> None:
    assert response.status_code == 429, response.text
    assert 1 <= int(response.headers["retry-after"]) <= window
    assert response.json()["detail"].startswith(detail + ";")


@pytest.fixture
def bcrypt_checks(monkeypatch) -> list[str]:
    """The hashes every login checked a password against, in order."""
    checked: list[str] = []
    real = auth.verify_password_async

    async def spy(password: str, password_hash: str) -> bool:
        checked.append(password_hash)
        return await real(password, password_hash)

    monkeypatch.setattr(auth, "verify_password_async", spy)
    return checked


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


def test_guesses_from_another_client_do_not_lock_the_owner_out(
    client: TestClient, make_user, settings: Settings
) -> None:
    user = make_user()  # registered, and later logging in, from the `client` fixture's address
    guesser = unique_address()
    statuses = [
        attempt(client, user["username"], "wrong-password-1", guesser).status_code
        for _ in range(10)
    ]
    limit = settings.login_max_failures_per_account_and_client
    assert statuses == [401] * limit + [429] * (10 - limit)
    refused = attempt(client, user["username"], user["password"], guesser)
    assert_refused(refused, settings.login_window_seconds, FOR_ACCOUNT_FROM_ADDRESS)
    # The email names the same account, so it shares the guesser's budget.
    by_email = attempt(client, user["email"], user["password"], guesser)
    assert_refused(by_email, settings.login_window_seconds, FOR_ACCOUNT_FROM_ADDRESS)
    # The owner's own client never failed: the correct password goes through.
    assert attempt(client, user["username"], user["password"]).status_code == 200


def test_a_refused_attempt_costs_no_bcrypt_check(
    client: TestClient, make_user, settings: Settings, bcrypt_checks: list[str]
) -> None:
    user = make_user()
    for _ in range(settings.login_max_failures_per_account_and_client):
        assert attempt(client, user["username"], "wrong-password-1").status_code == 401
    checked = len(bcrypt_checks)
    assert attempt(client, user["username"], "wrong-password-1").status_code == 429
    assert attempt(client, user["username"], user["password"]).status_code == 429
    assert len(bcrypt_checks) == checked


def test_unknown_accounts_are_limited_alike(client: TestClient, settings: Settings) -> None:
    credentials = new_credentials()
    for _ in range(settings.login_max_failures_per_account_and_client):
        assert attempt(client, credentials["username"], "wrong-password-1").status_code == 401
    refused = attempt(client, credentials["username"], "wrong-password-1")
    assert_refused(refused, settings.login_window_seconds, FOR_ACCOUNT_FROM_ADDRESS)


def test_success_forgives_the_clients_own_failures(
    client: TestClient, make_user, settings: Settings
) -> None:
    user = make_user()
    almost = settings.login_max_failures_per_account_and_client - 1
    for _ in range(2):
        for _ in range(almost):
            assert attempt(client, user["username"], "wrong-password-1").status_code == 401
        assert attempt(client, user["username"], user["password"]).status_code == 200


def test_client_limit_across_accounts(
    client: TestClient, settings: Settings, bcrypt_checks: list[str]
) -> None:
    address = unique_address()
    for _ in range(settings.login_max_failures_per_client):
        # A new unknown user each time, so only the per-client limit can trip.
        response = attempt(client, new_credentials()["username"], "wrong-password-1", address)
        assert response.status_code == 401
    checked = len(bcrypt_checks)
    refused = attempt(client, new_credentials()["username"], "wrong-password-1", address)
    assert_refused(refused, settings.login_window_seconds, FROM_ADDRESS)
    assert len(bcrypt_checks) == checked
    # Another address is unaffected.
    other = attempt(client, new_credentials()["username"], "wrong-password-1", unique_address())
    assert other.status_code == 401


def test_successful_logins_never_use_up_the_client_budget(client: TestClient) -> None:
    # Everyone behind one address (Docker's port publishing, a NAT): more logins than the
    # 30 failures the address may make, each of its own account.
    shared = unique_address()
    for _ in range(35):
        credentials = new_credentials()
        registered = client.post(
            "/auth/register", json=credentials, headers=via_gateway(unique_address())
        )
        assert registered.status_code == 201, registered.text
        response = attempt(client, credentials["username"], credentials["password"], shared)
        assert response.status_code == 200, response.text
    assert (
        attempt(client, new_credentials()["username"], "wrong-password-1", shared).status_code
        == 401
    )


def test_the_client_address_is_believed_only_from_the_gateway() -> None:
    # Each claim made with a valid credential that is not the gateway's (the operator's).
    claims = [
        {"X-Real-IP": unique_address()},
        {"X-Real-IP": unique_address()},
        {"X-Real-IP": unique_address(), "X-Forwarded-For": unique_address()},
    ]
    app = build_app(Settings(login_max_failures_per_client=2))
    # One peer of its own, so no other test's failures count against it.
    with TestClient(
        app, client=(unique_address(), 50000), headers=testing.internal_headers()
    ) as client:
        statuses = []
        for headers in claims:
            body = {"username": new_credentials()["username"], "password": "wrong-password-1"}
            statuses.append(client.post("/auth/login", json=body, headers=headers).status_code)
    # All three came from one peer, whatever they claimed.
    assert statuses == [401, 401, 429]


def test_addresses_of_one_ipv6_64_count_as_one_client(make_client) -> None:
    client = make_client(login_max_failures_per_client=2)
    network = unique_address().rsplit("::", 1)[0]
    addresses = [f"{network}::1", f"{network}::2", f"{network}:a:b:c:d"]
    statuses = [
        attempt(client, new_credentials()["username"], "wrong-password-1", address).status_code
        for address in addresses
    ]
    assert statuses == [401, 401, 429]
    other = attempt(client, new_credentials()["username"], "wrong-password-1", unique_address())
    assert other.status_code == 401


def test_the_account_ceiling_spares_clients_that_logged_in_before(make_client) -> None:
    client = make_client(
        login_max_failures_per_account=3, login_max_failures_per_account_and_client=1
    )
    credentials = new_credentials()
    assert client.post("/auth/register", json=credentials).status_code == 201
    home = unique_address()
    assert (
        attempt(client, credentials["username"], credentials["password"], home).status_code == 200
    )
    # Guessers from many addresses, each within its own limit, reach the account's ceiling.
    for _ in range(3):
        guess = attempt(client, credentials["username"], "wrong-password-1", unique_address())
        assert guess.status_code == 401
    guess = attempt(client, credentials["username"], "wrong-password-1", unique_address())
    assert_refused(guess, 300, FOR_ACCOUNT)
    # The owner, at an address that logged in to the account before, still gets in.
    assert (
        attempt(client, credentials["username"], credentials["password"], home).status_code == 200
    )
    # The last resort: from an address never seen, even the owner waits.
    elsewhere = attempt(client, credentials["username"], credentials["password"], unique_address())
    assert_refused(elsewhere, 300, FOR_ACCOUNT)


def test_limit_frees_when_the_window_passes(make_client) -> None:
    failures = 2
    client = make_client(login_window_seconds=1, login_max_failures_per_account_and_client=failures)
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
    client: TestClient, settings: Settings, bcrypt_checks: list[str]
) -> None:
    assert attempt(client, new_credentials()["username"], "wrong-password-1").status_code == 401
    assert bcrypt_checks == [dummy_hash(settings.bcrypt_rounds)]


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
