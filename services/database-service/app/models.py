"""Request and response schemas of the data API."""

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, StrictBool, StringConstraints, model_validator

# Values are stored as given (user-service normalizes them), so these limits are only the outer
# bounds of what is storable and addressable: no whitespace or control characters (PostgreSQL
# text cannot even hold NUL), lengths that fit any sane index.
USERNAME_MAX = 64
EMAIL_MAX = 254  # RFC 5321's limit on a forward path
PASSWORD_HASH_MAX = 255

USERNAME_PATTERN = r"^[^\s\x00-\x1f\x7f]+$"
EMAIL_PATTERN = r"^[^\s@\x00-\x1f\x7f]+@[^\s@\x00-\x1f\x7f]+$"
# Hash formats (bcrypt, argon2, scrypt, pbkdf2) are printable ASCII without spaces.
PASSWORD_HASH_PATTERN = r"^[\x21-\x7e]+$"  # noqa: S105 - a pattern, not a secret

# The roles of migration 0002's CHECK constraint, least privileged first.
Role = Literal["user", "admin"]

Username = Annotated[
    str, StringConstraints(min_length=1, max_length=USERNAME_MAX, pattern=USERNAME_PATTERN)
]
Email = Annotated[str, StringConstraints(min_length=3, max_length=EMAIL_MAX, pattern=EMAIL_PATTERN)]
PasswordHash = Annotated[
    str,
    StringConstraints(min_length=1, max_length=PASSWORD_HASH_MAX, pattern=PASSWORD_HASH_PATTERN),
]


class UserBase(BaseModel):
    username: Username
    email: Email


class UserCreate(UserBase):
    """Body of POST /users."""

    # Unknown fields are refused rather than ignored: a caller sending is_active or id expects
    # it to take effect.
    model_config = ConfigDict(extra="forbid")

    password_hash: PasswordHash
    role: Role = "user"


class UserUpdate(BaseModel):
    """Body of PATCH /users/{id}: only the fields present change; username is immutable."""

    model_config = ConfigDict(extra="forbid")

    email: Email | None = None
    password_hash: PasswordHash | None = None
    is_active: StrictBool | None = None
    role: Role | None = None

    @model_validator(mode="after")
    def _some_field_and_no_nulls(self) -> "UserUpdate":
        if not self.model_fields_set:
            raise ValueError("nothing to update: give email, password_hash, is_active or role")
        nulls = sorted(name for name in self.model_fields_set if getattr(self, name) is None)
        if nulls:
            raise ValueError(f"cannot be null: {', '.join(nulls)}")
        return self

    def changes(self) -> dict[str, object]:
        """The fields the caller sent, by column name."""
        return self.model_dump(exclude_unset=True)


class UserRecord(UserBase):
    """A stored user, as every route returns it."""

    id: uuid.UUID
    password_hash: str
    is_active: bool
    role: Role
    created_at: datetime
    updated_at: datetime
