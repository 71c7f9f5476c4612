"""POST /auth/register: validation, normalization, conflicts, malformed requests."""

import pytest
from fastapi.testclient import TestClient

from tests.utils import new_credentials


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
    assert set(user) == {"id", "username", "email", "is_active", "created_at"}
    assert credentials["password"] not in response.text


def test_duplicate_username_in_another_case(client: TestClient, make_user) -> None:
    user = make_user()
    other = new_credentials()
    response = client.post("/auth/register", json={**other, "username": user["username"].upper()})
    assert response.status_code == 409
    assert "username" in response.json()["detail"]


def test_duplicate_email_in_another_case(client: TestClient, make_user) -> None:
    user = make_user()
    other = new_credentials()
    response = client.post("/auth/register", json={**other, "email": user["email"].upper()})
    assert response.status_code == 409
    assert "email" in response.json()["detail"]


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
