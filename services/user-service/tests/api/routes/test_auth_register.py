"""POST /auth/register: validation, normalization, conflicts, malformed requests."""

import pytest
from fastapi.testclient import TestClient

from app.api.routes import auth
from tests.utils import new_credentials, unique_address, via_gateway

UNAVAILABLE = "username or email unavailable"


def messages(response) -> str:
    return " | ".join(error["msg"] for error in response.json()["detail"])


def test_register_normalizes_and_hides_the_hash(client: TestClient) -> None:
    credentials = new_credentials()
    body = {
        **credentials,
        "username": credentials["username"].upper(),
        "email": credentials["email"].replace("@example.com", "@Example.COM").upper(),
    }
    response = client.post("/auth/register", json=body)
    assert response.status_code == 201, response.text
    user = response.json()
    assert user["username"] == credentials["username"]
    assert user["email"] == credentials["email"]
    assert user["is_active"] is True
    assert set(user) == {"id", "username", "email", "is_active", "role", "created_at"}
    assert credentials["password"] not in response.text


def test_a_taken_username_and_a_taken_email_get_one_answer(client: TestClient, make_user) -> None:
    user = make_user()
    taken_name = {**new_credentials(), "username": user["username"].upper()}
    taken_email = {**new_credentials(), "email": user["email"].upper()}
    answers = [client.post("/auth/register", json=body) for body in (taken_name, taken_email)]
    assert [answer.status_code for answer in answers] == [409, 409]
    # Which of the two is taken is not said: the answer would tell who has an account.
    assert answers[0].json() == answers[1].json() == {"detail": UNAVAILABLE}
    assert answers[0].headers.keys() == answers[1].headers.keys()
    # Nothing of the clashing attempts was kept: its email is still free.
    fresh_name = {**taken_name, "username": "x" + user["username"][1:]}
    assert client.post("/auth/register", json=fresh_name).status_code == 201


def test_register_is_limited_per_client(make_client, monkeypatch) -> None:
    client = make_client(register_max_per_client=2, register_window_seconds=60)
    first = new_credentials()
    assert client.post("/auth/register", json=first).status_code == 201
    # A taken name counts too: each answer is a probe of who exists.
    taken = {**new_credentials(), "username": first["username"]}
    assert client.post("/auth/register", json=taken).status_code == 409

    hashed: list[str] = []
    real = auth.hash_password_async

    async def spy(password: str, rounds: int) -> str:
        hashed.append(password)
        return await real(password, rounds)

    monkeypatch.setattr(auth, "hash_password_async", spy)
    refused = client.post("/auth/register", json=new_credentials())
    assert refused.status_code == 429, refused.text
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.json()["detail"].startswith("too many registrations from this address;")
    assert hashed == []  # refused before bcrypt spent anything on it
    other = client.post(
        "/auth/register", json=new_credentials(), headers=via_gateway(unique_address())
    )
    assert other.status_code == 201


@pytest.mark.parametrize(
    "email", ["not-an-email", "two@@example.com", "no-domain@", "@example.com", "a@b", "a b@c.org"]
)
def test_invalid_email(client: TestClient, email: str) -> None:
    response = client.post("/auth/register", json={**new_credentials(), "email": email})
    assert response.status_code == 422
    assert "invalid email address" in messages(response)


@pytest.mark.parametrize(
    "username", ["ab", "x" * 33, "has space", "slash/name", "ümlaut", "semi;colon", ""]
)
def test_invalid_username(client: TestClient, username: str) -> None:
    response = client.post("/auth/register", json={**new_credentials(), "username": username})
    assert response.status_code == 422
    assert "username must be 3-32 characters" in messages(response)


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short1", "at least 10 characters"),
        ("onlyletterspassword", "at least one letter and one digit"),
        ("1234567890123", "at least one letter and one digit"),
        ("a1" * 65, "at most 128 characters"),
        ("é" * 40 + "a1", "at most 72 bytes in UTF-8"),
        ("{username}99abc", "must not contain the username"),
    ],
)
def test_weak_password(client: TestClient, password: str, message: str) -> None:
    credentials = new_credentials()
    password = password.format(username=credentials["username"].upper())
    response = client.post("/auth/register", json={**credentials, "password": password})
    assert response.status_code == 422
    assert message in messages(response)


def test_password_of_exactly_72_bytes_is_accepted(client: TestClient) -> None:
    password = "é" * 35 + "a1"  # 70 + 2 bytes
    response = client.post("/auth/register", json={**new_credentials(), "password": password})
    assert response.status_code == 201, response.text


def test_missing_field(client: TestClient) -> None:
    credentials = new_credentials()
    del credentials["email"]
    response = client.post("/auth/register", json=credentials)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "email"]


def test_malformed_json(client: TestClient) -> None:
    response = client.post(
        "/auth/register",
        content=b'{"username": "abc", "email": ',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["detail"] == "request body is not valid JSON"


def test_oversized_body(client: TestClient, settings) -> None:
    body = b'{"username": "' + b"a" * settings.max_body_bytes + b'"}'
    response = client.post(
        "/auth/register", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
