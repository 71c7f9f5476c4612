"""Roles: stored by database-service, carried in the access token, shown by /auth/me."""

import httpx
from fastapi.testclient import TestClient

from tests.utils import bearer, claims_of, new_credentials


def _promote(database: httpx.Client, user_id: str) -> None:
    response = database.patch(f"/users/{user_id}", json={"role": "admin"})
    assert response.status_code == 200, response.text


def test_a_new_account_is_an_ordinary_user(client: TestClient, make_user, login) -> None:
    user = make_user()
    assert user["role"] == "user"
    pair = login(user)
    assert claims_of(pair["access_token"])["role"] == "user"
    me = client.get("/auth/me", headers=bearer(pair["access_token"]))
    assert me.status_code == 200, me.text
    assert me.json()["role"] == "user"


def test_register_cannot_choose_a_role(client: TestClient) -> None:
    response = client.post("/auth/register", json={**new_credentials(), "role": "admin"})
    # The field is not part of the request: ignored, never obeyed.
    assert response.status_code == 201, response.text
    assert response.json()["role"] == "user"


def test_an_admin_logs_in_with_the_admin_claim(
    client: TestClient, make_user, login, database: httpx.Client
) -> None:
    user = make_user()
    _promote(database, user["id"])
    pair = login(user)
    assert claims_of(pair["access_token"])["role"] == "admin"
    assert client.get("/auth/me", headers=bearer(pair["access_token"])).json()["role"] == "admin"


def test_a_refresh_carries_a_changed_role(
    client: TestClient, make_user, login, database: httpx.Client
) -> None:
    user = make_user()
    pair = login(user)
    _promote(database, user["id"])
    refreshed = client.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.text
    assert claims_of(refreshed.json()["access_token"])["role"] == "admin"
