"""The users resource of the internal data API (contract: services/README.md)."""

import uuid
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, status

from app import crud
from app.api.deps import DbDep
from app.models import Email, UserCreate, Username, UserRecord, UserUpdate

router = APIRouter(prefix="/users", tags=["users"])

# ":path" in the routes below lets a value hold "/" (legal in an email's local part).
# Lookups accept exactly what creates accept: anything else cannot be stored, so it is a 422.
UsernamePath = Annotated[Username, Path()]
EmailPath = Annotated[Email, Path()]

NOT_FOUND = "user not found"


def _found(user: UserRecord | None) -> UserRecord:
    if user is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND)
    return user


@router.post("", status_code=status.HTTP_201_CREATED, responses={409: {"description": "taken"}})
async def create_user(user: UserCreate, db: DbDep) -> UserRecord:
    """Store a new user; 409 names the username or email that is already taken."""
    try:
        return await crud.create_user(db, user)
    except crud.Conflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, exc.detail) from exc


@router.get("/by-username/{username:path}")
async def read_user_by_username(username: UsernamePath, db: DbDep) -> UserRecord:
    """The user with exactly this username (stored as given, so case matters)."""
    return _found(await crud.get_user_by_username(db, username))


@router.get("/by-email/{email:path}")
async def read_user_by_email(email: EmailPath, db: DbDep) -> UserRecord:
    """The user with exactly this email (stored as given, so case matters)."""
    return _found(await crud.get_user_by_email(db, email))


@router.get("/{user_id}")
async def read_user(user_id: uuid.UUID, db: DbDep) -> UserRecord:
    """The user with this id; a malformed id is a 422."""
    return _found(await crud.get_user(db, user_id))


@router.patch("/{user_id}", responses={409: {"description": "email taken"}})
async def update_user(user_id: uuid.UUID, update: UserUpdate, db: DbDep) -> UserRecord:
    """Change email, password_hash, is_active and/or role; at least one is required."""
    try:
        return _found(await crud.update_user(db, user_id, update))
    except crud.Conflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, exc.detail) from exc
