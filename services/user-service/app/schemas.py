"""Request and response bodies, and the user record database-service returns."""

import re
import uuid
from datetime import datetime
from typing import Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, Field, field_validator, model_validator

from app.core.security import BCRYPT_MAX_BYTES, Role

USERNAME_PATTERN = re.compile(r"[a-z0-9_.-]{3,32}")
PASSWORD_MIN_LENGTH = 10
PASSWORD_MAX_LENGTH = 128
# Longest address SMTP can carry (RFC 5321 path limit minus the angle brackets).
EMAIL_MAX_LENGTH = 254


def normalize_username(value: str) -> str:
    """Lower-case `value`; raise ValueError unless it is 3-32 of [a-z0-9_.-]."""
    username = value.lower()
    if not USERNAME_PATTERN.fullmatch(username):
        raise ValueError("username must be 3-32 characters, each a-z, 0-9, '_', '.' or '-'")
    return username


def normalize_email(value: str) -> str:
    """Syntax-check and normalize an address (no DNS lookup), lower-cased whole."""
    try:
        return validate_email(value, check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise ValueError(f"invalid email address: {exc}") from None


def check_password_policy(password: str, username: str) -> None:
    """Raise ValueError naming the first rule `password` breaks."""
    if len(password) < PASSWORD_MIN_LENGTH:
        raise ValueError(f"password must be at least {PASSWORD_MIN_LENGTH} characters long")
    if len(password) > PASSWORD_MAX_LENGTH:
        raise ValueError(f"password must be at most {PASSWORD_MAX_LENGTH} characters long")
    try:
        size = len(password.encode())
    except UnicodeEncodeError:
        raise ValueError("password must be valid Unicode text") from None
    if size > BCRYPT_MAX_BYTES:
        raise ValueError(
            f"password must be at most {BCRYPT_MAX_BYTES} bytes in UTF-8 (it is {size}): "
            "bcrypt ignores everything after that"
        )
    if not any(char.isalpha() for char in password) or not any(char.isdigit() for char in password):
        raise ValueError("password must contain at least one letter and one digit")
    if username and username in password.lower():
        raise ValueError("password must not contain the username")


class UserBase(BaseModel):
    """Fields a user chooses."""

    username: str = Field(max_length=64)
    email: str = Field(max_length=EMAIL_MAX_LENGTH)


class UserCreate(UserBase):
    """POST /auth/register."""

    password: str = Field(max_length=1024)

    @field_validator("username")
    @classmethod
    def _username(cls, value: str) -> str:
        return normalize_username(value)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        return normalize_email(value)

    @model_validator(mode="after")
    def _password(self) -> "UserCreate":
        check_password_policy(self.password, self.username)
        return self


class UserPublic(UserBase):
    """What anyone may see of a user: never the password hash."""

    id: uuid.UUID
    is_active: bool
    # Required, so a profile cached by an older version (without it) is fetched again.
    role: Role
    created_at: datetime


class UserRecord(UserPublic):
    """A user as database-service stores it."""

    password_hash: str
    updated_at: datetime


class LoginRequest(BaseModel):
    """POST /auth/login: `username` may also be the account's email address."""

    username: str = Field(min_length=1, max_length=EMAIL_MAX_LENGTH)
    password: str = Field(min_length=1, max_length=1024)


class RefreshRequest(BaseModel):
    """POST /auth/refresh."""

    refresh_token: str = Field(min_length=1, max_length=4096)


class TokenPair(BaseModel):
    """Tokens of one session; `expires_in` is the access token's lifetime in seconds."""

    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - OAuth 2 token type, no secret
    expires_in: int
