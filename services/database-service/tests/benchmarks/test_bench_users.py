"""database-service's hot paths, in process: validating a create body, turning a row into a
UserRecord and back into JSON, and a lookup through the real app against PostgreSQL.

The lookups go through TestClient (internal-token check, pooled connection, one SELECT by
primary key or unique username, serialization), so they include the test client's overhead.
"""

import datetime as dt
import uuid

import pytest

import servicekit_testing as testing
from app.models import UserCreate, UserRecord
from tests.utils import new_user

NOW = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def row() -> dict:
    """A users row as asyncpg returns it (as a dict)."""
    body = new_user()
    return {
        "id": uuid.uuid4(),
        "username": body["username"],
        "email": body["email"],
        "password_hash": body["password_hash"],
        "is_active": True,
        "role": "user",
        "created_at": NOW,
        "updated_at": NOW,
    }


def test_validate_create_body(benchmark) -> None:
    body = new_user()
    user = benchmark(UserCreate.model_validate, body)
    assert user.username == body["username"]


def test_record_from_row(benchmark, row: dict) -> None:
    record = benchmark(UserRecord.model_validate, row)
    assert record.id == row["id"]


def test_record_to_json(benchmark, row: dict) -> None:
    record = UserRecord.model_validate(row)
    text = benchmark(record.model_dump_json)
    assert str(row["id"]) in text


@pytest.fixture(scope="module")
def stored(client, auth: dict[str, str]) -> dict:
    response = client.post("/users", json=new_user(), headers=auth)
    assert response.status_code == 201, response.text
    return response.json()


@pytest.fixture(scope="module")
def auth(settings) -> dict[str, str]:
    # Module-scoped twin of the suite's `auth` fixture, for the module-scoped `stored`.
    return testing.internal_headers()


def test_get_user_by_id(benchmark, client, auth: dict[str, str], stored: dict) -> None:
    response = benchmark(client.get, f"/users/{stored['id']}", headers=auth)
    assert response.status_code == 200, response.text
    assert response.json()["username"] == stored["username"]


def test_get_user_by_username(benchmark, client, auth: dict[str, str], stored: dict) -> None:
    response = benchmark(client.get, f"/users/by-username/{stored['username']}", headers=auth)
    assert response.status_code == 200, response.text
