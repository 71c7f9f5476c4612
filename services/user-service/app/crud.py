"""User records, read and written through database-service's internal data API."""

import logging
from urllib.parse import quote

import httpx

from app.core.security import Role
from app.schemas import UserRecord
from servicekit.http import ServiceClient

log = logging.getLogger("user-service.crud")


class DatabaseServiceError(Exception):
    """database-service could not be reached or answered something unexpected."""


class ConflictError(Exception):
    """database-service refused a write (409); the message is its detail."""


def _segment(value: str) -> str:
    # Identifiers come from callers: encode every reserved character so none can change the path.
    return quote(value, safe="")


async def _call(
    db: ServiceClient, method: str, path: str, expected: tuple[int, ...], **kwargs
) -> httpx.Response:
    """Send one request; any status outside `expected` (a 5xx, or 401 for a wrong
    INTERNAL_TOKEN) means database-service cannot serve us, not that the caller erred."""
    try:
        response = await db.request(method, path, **kwargs)
    except httpx.HTTPError as exc:
        raise DatabaseServiceError(f"{method} {path}: {type(exc).__name__}") from exc
    if response.status_code not in expected:
        raise DatabaseServiceError(f"{method} {path}: answered {response.status_code}")
    return response


def _record(response: httpx.Response) -> UserRecord:
    try:
        return UserRecord.model_validate(response.json())
    except ValueError as exc:
        raise DatabaseServiceError(f"unexpected user record: {exc}") from exc


def _conflict_detail(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    return detail if isinstance(detail, str) and detail else "username or email already taken"


async def _get_one(db: ServiceClient, path: str) -> UserRecord | None:
    response = await _call(db, "GET", path, (200, 404, 422))
    if response.status_code == 422:
        # database-service found the key malformed: no user can have it.
        log.warning("database-service refused GET %s as invalid", path)
        return None
    return _record(response) if response.status_code == 200 else None


async def create_user(
    db: ServiceClient, *, username: str, email: str, password_hash: str, role: Role = "user"
) -> UserRecord:
    """Store a new user; raise ConflictError when the username or email is taken."""
    body = {"username": username, "email": email, "password_hash": password_hash, "role": role}
    response = await _call(db, "POST", "/users", (200, 201, 409), json=body)
    if response.status_code == 409:
        raise ConflictError(_conflict_detail(response))
    return _record(response)


async def get_user(db: ServiceClient, user_id: str) -> UserRecord | None:
    """The user with this id, or None."""
    return await _get_one(db, f"/users/{_segment(user_id)}")


async def get_user_by_username(db: ServiceClient, username: str) -> UserRecord | None:
    """The user with this (normalized) username, or None."""
    return await _get_one(db, f"/users/by-username/{_segment(username)}")


async def get_user_by_email(db: ServiceClient, email: str) -> UserRecord | None:
    """The user with this (normalized) email address, or None."""
    return await _get_one(db, f"/users/by-email/{_segment(email)}")


async def update_password_hash(db: ServiceClient, user_id: str, password_hash: str) -> None:
    """Replace a user's password hash (used to raise the bcrypt cost of old hashes)."""
    path = f"/users/{_segment(user_id)}"
    await _call(db, "PATCH", path, (200,), json={"password_hash": password_hash})
