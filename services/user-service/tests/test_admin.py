"""The first admin: made at start from ADMIN_USERNAME / ADMIN_PASSWORD, once, by the first."""

import asyncio
import uuid

import httpx
from fastapi.testclient import TestClient

from app.admin import ensure_admin
from app.core.config import Settings
from servicekit.http import ServiceClient
from tests.utils import claims_of, closed_port


def _admin() -> dict[str, str]:
    name = f"adm_{uuid.uuid4().hex[:12]}"
    return {"admin_username": name, "admin_password": f"Adm-{uuid.uuid4().hex}-7"}


def _log_in(client: TestClient, admin: dict[str, str]) -> httpx.Response:
    credentials = {"username": admin["admin_username"], "password": admin["admin_password"]}
    return client.post("/auth/login", json=credentials)


def test_the_configured_admin_is_created_at_start(make_client, database: httpx.Client) -> None:
    admin = _admin()
    client = make_client(**admin)
    stored = database.get(f"/users/by-username/{admin['admin_username']}")
    assert stored.status_code == 200, stored.text
    assert stored.json()["role"] == "admin"
    assert stored.json()["password_hash"] != admin["admin_password"]
    login = _log_in(client, admin)
    assert login.status_code == 200, login.text
    assert claims_of(login.json()["access_token"])["role"] == "admin"


def test_a_second_start_keeps_the_admin(make_client, database: httpx.Client) -> None:
    admin = _admin()
    make_client(**admin)
    first = database.get(f"/users/by-username/{admin['admin_username']}").json()
    # A restart with another password changes nothing: the account is the admin's now.
    second = make_client(**{**admin, "admin_password": f"Other-{uuid.uuid4().hex}-1"})
    assert database.get(f"/users/by-username/{admin['admin_username']}").json() == first
    assert _log_in(second, admin).status_code == 200


def test_workers_starting_together_make_one_admin(settings: Settings) -> None:
    admin = _admin()
    configured = Settings(**{**settings.model_dump(), **admin})

    async def race() -> list[str]:
        clients = [
            ServiceClient(settings.database_service_url, internal_token=settings.internal_token)
            for _ in range(6)
        ]
        try:
            return await asyncio.gather(*(ensure_admin(db, configured) for db in clients))
        finally:
            for db in clients:
                await db.aclose()

    outcomes = asyncio.run(race())
    assert outcomes.count("created") == 1
    assert set(outcomes) == {"created", "present"}


def test_an_ordinary_account_of_that_name_is_not_promoted(
    make_client, make_user, database: httpx.Client, settings: Settings
) -> None:
    squatter = make_user(username=f"adm_{uuid.uuid4().hex[:12]}")
    admin = {"admin_username": squatter["username"], "admin_password": squatter["password"]}

    async def ensure() -> str:
        db = ServiceClient(settings.database_service_url, internal_token=settings.internal_token)
        try:
            return await ensure_admin(db, Settings(**{**settings.model_dump(), **admin}))
        finally:
            await db.aclose()

    assert asyncio.run(ensure()) == "taken"
    client = make_client(**admin)  # the service still starts
    assert database.get(f"/users/{squatter['id']}").json()["role"] == "user"
    login = _log_in(client, admin)
    assert claims_of(login.json()["access_token"])["role"] == "user"


def test_no_admin_is_made_without_a_password(make_client, database: httpx.Client) -> None:
    admin = _admin()
    make_client(admin_username=admin["admin_username"], admin_password="")
    assert database.get(f"/users/by-username/{admin['admin_username']}").status_code == 404


def test_database_service_down_at_start_does_not_stop_the_service(make_client) -> None:
    client = make_client(database_service_url=f"http://127.0.0.1:{closed_port()}", **_admin())
    assert client.get("/health").status_code == 503  # up, and saying what is missing
