"""SQL for the users table; each function is one statement, so each is atomic by itself."""

import uuid

import asyncpg

from app.models import UserCreate, UserRecord, UserUpdate

COLUMNS = "id, username, email, password_hash, is_active, role, created_at, updated_at"
# Composed from constants only (S608 cannot tell); every value travels as a bind parameter.
INSERT = (
    "INSERT INTO users (username, email, password_hash, role) VALUES ($1, $2, $3, $4) "  # noqa: S608
    f"RETURNING {COLUMNS}"
)
SELECT_BY_ID = f"SELECT {COLUMNS} FROM users WHERE id = $1"  # noqa: S608
SELECT_BY_USERNAME = f"SELECT {COLUMNS} FROM users WHERE username = $1"  # noqa: S608
SELECT_BY_EMAIL = f"SELECT {COLUMNS} FROM users WHERE email = $1"  # noqa: S608

# Constraint names from app/migrations/0001_users.sql. A unique violation is detected from the
# insert itself: a lookup beforehand would race with a concurrent insert of the same name.
CONFLICTS = {
    "users_username_key": "username already taken",
    "users_email_key": "email already registered",
}


class Conflict(Exception):
    """A unique field is already taken; ``detail`` names it."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def _conflict(exc: asyncpg.UniqueViolationError) -> Exception:
    detail = CONFLICTS.get(exc.constraint_name or "")
    # A constraint this module does not know about is a bug, not a caller's mistake.
    return Conflict(detail) if detail else exc


def _record(row: asyncpg.Record | None) -> UserRecord | None:
    return None if row is None else UserRecord.model_validate(dict(row))


async def create_user(conn: asyncpg.Connection, user: UserCreate) -> UserRecord:
    """Insert a user; raises Conflict when the username or email is taken."""
    try:
        row = await conn.fetchrow(INSERT, user.username, user.email, user.password_hash, user.role)
    except asyncpg.UniqueViolationError as exc:
        raise _conflict(exc) from exc
    return UserRecord.model_validate(dict(row))


async def get_user(conn: asyncpg.Connection, user_id: uuid.UUID) -> UserRecord | None:
    return _record(await conn.fetchrow(SELECT_BY_ID, user_id))


async def get_user_by_username(conn: asyncpg.Connection, username: str) -> UserRecord | None:
    return _record(await conn.fetchrow(SELECT_BY_USERNAME, username))


async def get_user_by_email(conn: asyncpg.Connection, email: str) -> UserRecord | None:
    return _record(await conn.fetchrow(SELECT_BY_EMAIL, email))


async def update_user(
    conn: asyncpg.Connection, user_id: uuid.UUID, update: UserUpdate
) -> UserRecord | None:
    """Change the given fields; None when no such user; raises Conflict on a taken email."""
    changes = update.changes()
    # Column names come from UserUpdate's declared fields (extra keys are refused), never from
    # the caller, so composing them into SQL is safe; values stay bind parameters.
    assignments = ", ".join(f"{column} = ${n}" for n, column in enumerate(changes, start=2))
    query = f"UPDATE users SET {assignments}, updated_at = now() WHERE id = $1 RETURNING {COLUMNS}"  # noqa: S608
    try:
        row = await conn.fetchrow(query, user_id, *changes.values())
    except asyncpg.UniqueViolationError as exc:
        raise _conflict(exc) from exc
    return _record(row)
