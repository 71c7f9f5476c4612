"""The users data API against a real PostgreSQL: create, look up, update, conflicts."""

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import asyncpg
import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from tests.utils import new_user, pg_connect, run

RECORD_FIELDS = {
    "id",
    "username",
    "email",
    "password_hash",
    "is_active",
    "role",
    "created_at",
    "updated_at",
}


def create(client: TestClient, auth: dict[str, str], **overrides: str) -> dict:
    response = client.post("/users", json=new_user(**overrides), headers=auth)
    assert response.status_code == 201, response.text
    return response.json()


def test_create_returns_the_stored_record(client: TestClient, auth: dict[str, str]) -> None:
    body = new_user()
    response = client.post("/users", json=body, headers=auth)
    assert response.status_code == 201, response.text
    record = response.json()
    assert set(record) == RECORD_FIELDS
    assert uuid.UUID(record["id"])
    assert {k: record[k] for k in body} == body
    assert record["is_active"] is True
    assert record["role"] == "user"  # every account starts as an ordinary user
    assert record["created_at"] == record["updated_at"]
    assert datetime.fromisoformat(record["created_at"]).tzinfo is not None


def test_values_are_stored_as_given(client: TestClient, auth: dict[str, str]) -> None:
    # user-service normalizes; this service must not second-guess it.
    tag = uuid.uuid4().hex[:12]
    record = create(client, auth, username=f"Mixed_{tag}", email=f"Mixed.{tag}@Example.TEST")
    assert record["username"] == f"Mixed_{tag}"
    assert record["email"] == f"Mixed.{tag}@Example.TEST"
    lower = client.get(f"/users/by-username/mixed_{tag}", headers=auth)
    assert lower.status_code == 404


def test_lookups_by_id_username_and_email(client: TestClient, auth: dict[str, str]) -> None:
    record = create(client, auth)
    for path in (
        f"/users/{record['id']}",
        f"/users/by-username/{record['username']}",
        f"/users/by-email/{record['email']}",
    ):
        response = client.get(path, headers=auth)
        assert response.status_code == 200, (path, response.text)
        assert response.json() == record


def test_lookup_of_an_email_with_a_slash(client: TestClient, auth: dict[str, str]) -> None:
    record = create(client, auth, email=f"a/{uuid.uuid4().hex}@example.test")
    response = client.get(f"/users/by-email/{record['email']}", headers=auth)
    assert response.status_code == 200
    assert response.json()["id"] == record["id"]


def test_lookups_of_unknown_users_are_404(client: TestClient, auth: dict[str, str]) -> None:
    tag = uuid.uuid4().hex
    for path in (
        f"/users/{uuid.uuid4()}",
        f"/users/by-username/nobody_{tag}",
        f"/users/by-email/nobody_{tag}@example.test",
    ):
        response = client.get(path, headers=auth)
        assert response.status_code == 404, path
        assert response.json() == {"detail": "user not found"}


def test_update_changes_only_the_given_fields(client: TestClient, auth: dict[str, str]) -> None:
    record = create(client, auth)
    new_email = f"new_{uuid.uuid4().hex}@example.test"
    response = client.patch(
        f"/users/{record['id']}",
        json={"email": new_email, "is_active": False},
        headers=auth,
    )
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["email"] == new_email
    assert updated["is_active"] is False
    assert updated["username"] == record["username"]
    assert updated["password_hash"] == record["password_hash"]
    assert updated["created_at"] == record["created_at"]
    assert datetime.fromisoformat(updated["updated_at"]) > datetime.fromisoformat(
        record["updated_at"]
    )
    # Persisted, and findable under the new email only.
    assert client.get(f"/users/{record['id']}", headers=auth).json() == updated
    assert client.get(f"/users/by-email/{new_email}", headers=auth).status_code == 200
    assert client.get(f"/users/by-email/{record['email']}", headers=auth).status_code == 404

    response = client.patch(
        f"/users/{record['id']}", json={"password_hash": "$argon2id$v=19$x"}, headers=auth
    )
    assert response.status_code == 200
    assert response.json()["password_hash"] == "$argon2id$v=19$x"
    assert response.json()["is_active"] is False


def test_update_of_an_unknown_user_is_404(client: TestClient, auth: dict[str, str]) -> None:
    response = client.patch(f"/users/{uuid.uuid4()}", json={"is_active": True}, headers=auth)
    assert response.status_code == 404


def test_update_refuses_empty_null_unknown_and_immutable_fields(
    client: TestClient, auth: dict[str, str]
) -> None:
    record = create(client, auth)
    for body in (
        {},
        {"email": None},
        {"is_active": None},
        {"is_active": "no"},
        {"username": "renamed"},
        {"id": str(uuid.uuid4())},
        {"email": "not-an-email"},
    ):
        response = client.patch(f"/users/{record['id']}", json=body, headers=auth)
        assert response.status_code == 422, (body, response.text)
    assert client.get(f"/users/{record['id']}", headers=auth).json() == record


def test_duplicate_username_is_409_and_stores_nothing(
    client: TestClient, auth: dict[str, str]
) -> None:
    first = create(client, auth)
    second = new_user(username=first["username"])
    response = client.post("/users", json=second, headers=auth)
    assert response.status_code == 409
    assert response.json() == {"detail": "username already taken"}
    assert client.get(f"/users/by-email/{second['email']}", headers=auth).status_code == 404
    assert client.get(f"/users/{first['id']}", headers=auth).json() == first


def test_duplicate_email_is_409_and_stores_nothing(
    client: TestClient, auth: dict[str, str]
) -> None:
    first = create(client, auth)
    second = new_user(email=first["email"])
    response = client.post("/users", json=second, headers=auth)
    assert response.status_code == 409
    assert response.json() == {"detail": "email already registered"}
    assert client.get(f"/users/by-username/{second['username']}", headers=auth).status_code == 404
    assert client.get(f"/users/{first['id']}", headers=auth).json() == first


def test_update_to_a_taken_email_is_409_and_changes_nothing(
    client: TestClient, auth: dict[str, str]
) -> None:
    first, second = create(client, auth), create(client, auth)
    response = client.patch(
        f"/users/{second['id']}",
        json={"email": first["email"], "is_active": False},
        headers=auth,
    )
    assert response.status_code == 409
    assert response.json() == {"detail": "email already registered"}
    assert client.get(f"/users/{second['id']}", headers=auth).json() == second


def test_concurrent_creates_of_one_username_store_exactly_one(
    client: TestClient, auth: dict[str, str]
) -> None:
    username = new_user()["username"]
    bodies = [new_user(username=username) for _ in range(8)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = sorted(
            pool.map(lambda b: client.post("/users", json=b, headers=auth).status_code, bodies)
        )
    assert statuses == [201] + [409] * 7
    stored = client.get(f"/users/by-username/{username}", headers=auth).json()
    assert stored["email"] in {b["email"] for b in bodies}


def test_a_user_may_be_created_as_admin_and_roles_change(
    client: TestClient, auth: dict[str, str]
) -> None:
    admin = create(client, auth, role="admin")
    assert admin["role"] == "admin"
    assert client.get(f"/users/{admin['id']}", headers=auth).json()["role"] == "admin"
    demoted = client.patch(f"/users/{admin['id']}", json={"role": "user"}, headers=auth)
    assert demoted.status_code == 200, demoted.text
    assert demoted.json()["role"] == "user"
    assert demoted.json()["email"] == admin["email"]


def test_unknown_roles_are_refused(client: TestClient, auth: dict[str, str]) -> None:
    response = client.post("/users", json=new_user(role="root"), headers=auth)
    assert response.status_code == 422, response.text
    record = create(client, auth)
    for body in ({"role": "root"}, {"role": None}, {"role": "Admin"}):
        response = client.patch(f"/users/{record['id']}", json=body, headers=auth)
        assert response.status_code == 422, (body, response.text)
    assert client.get(f"/users/{record['id']}", headers=auth).json()["role"] == "user"


def test_the_database_itself_refuses_an_unknown_role(settings: Settings) -> None:
    # The CHECK constraint holds even for a writer that skips this API's validation.
    async def insert() -> None:
        conn = await pg_connect(settings)
        try:
            body = new_user()
            with pytest.raises(asyncpg.CheckViolationError):
                await conn.execute(
                    "INSERT INTO users (username, email, password_hash, role) "
                    "VALUES ($1, $2, $3, 'root')",
                    body["username"],
                    body["email"],
                    body["password_hash"],
                )
        finally:
            await conn.close()

    run(insert)
