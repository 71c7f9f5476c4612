"""Password hashing (bcrypt) and the platform's JWTs (HS256)."""

import asyncio
import time
import uuid
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, get_args

import bcrypt
import jwt

from servicekit import tokens
from servicekit.tokens import ALGORITHM, ISSUER

# bcrypt only reads the first 72 bytes of a password; bcrypt>=5 refuses longer input outright.
BCRYPT_MAX_BYTES = 72
REQUIRED_CLAIMS = ("sub", "username", "sid", "jti", "type", "iat", "exp", "iss")

TokenType = Literal["access", "refresh"]
# What an account may do through the gateway, least privileged first (services/README.md).
Role = Literal["user", "admin"]
ROLES: tuple[str, ...] = get_args(Role)
# Access tokens minted before roles existed carry no `role` claim: they speak for a user.
DEFAULT_ROLE = "user"
_ARTICLE = {"access": "an", "refresh": "a"}


def hash_password(password: str, rounds: int) -> str:
    """bcrypt hash of `password` at cost `rounds` ("$2b$<rounds>$...")."""
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds)).decode()


def verify_password(password: str, password_hash: str) -> bool:
    """True when `password` matches; False for a mismatch, an overlong password or a bad hash."""
    try:
        encoded = password.encode()
        if len(encoded) > BCRYPT_MAX_BYTES:
            # No stored hash can match it (registration refuses it), yet the answer must take
            # as long as a real check: do the work on the first 72 bytes and discard it.
            bcrypt.checkpw(encoded[:BCRYPT_MAX_BYTES], password_hash.encode())
            return False
        return bcrypt.checkpw(encoded, password_hash.encode())
    except ValueError:  # also UnicodeEncodeError (lone surrogates): never a stored password
        return False


def hash_rounds(password_hash: str) -> int | None:
    """The cost a "$2b$NN$..." hash was made with, or None if it is not one."""
    parts = password_hash.split("$")
    return int(parts[2]) if len(parts) == 4 and parts[2].isdigit() else None


@lru_cache
def dummy_hash(rounds: int) -> str:
    """A hash of a random password, checked for unknown users so their login costs the same."""
    return hash_password(uuid.uuid4().hex, rounds)


async def hash_password_async(password: str, rounds: int) -> str:
    """hash_password in a worker thread: bcrypt holds the CPU for a noticeable time."""
    return await asyncio.to_thread(hash_password, password, rounds)


async def verify_password_async(password: str, password_hash: str) -> bool:
    """verify_password in a worker thread."""
    return await asyncio.to_thread(verify_password, password, password_hash)


@dataclass(frozen=True)
class TokenClaims:
    """The claims of a verified token that the service acts on."""

    user_id: str
    username: str
    session_id: str
    token_id: str
    type: TokenType
    expires_at: int
    role: Role = DEFAULT_ROLE


class TokenError(Exception):
    """A token that must be refused; the message is safe to show to the caller."""


def create_token(
    *,
    secret: str,
    kind: TokenType,
    user_id: str,
    username: str,
    session_id: str,
    ttl: int,
    token_id: str | None = None,
    role: Role | None = None,
) -> str:
    """Sign a token of the platform contract (services/README.md, "Tokens"); access tokens
    carry the account's `role`, which the gateway enforces."""
    now = int(time.time())
    claims = {
        "sub": user_id,
        "username": username,
        "sid": session_id,
        "jti": token_id or uuid.uuid4().hex,
        "type": kind,
        "iat": now,
        "exp": now + ttl,
        "iss": ISSUER,
    }
    if role is not None:
        claims["role"] = role
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def decode_token(token: str, *, secret: str, expected_type: TokenType) -> TokenClaims:
    """Verify signature, issuer, expiry and type; raise TokenError saying what is wrong."""
    try:
        claims = tokens.decode(token, secret, REQUIRED_CLAIMS)
    except jwt.ExpiredSignatureError:
        raise TokenError("token expired") from None
    except (jwt.InvalidTokenError, ValueError, TypeError):
        # ValueError/TypeError: odd input the library does not wrap; still just a bad token.
        raise TokenError("invalid token") from None
    if claims["type"] != expected_type:
        raise TokenError(f"invalid token: not {_ARTICLE[expected_type]} {expected_type} token")
    fields = ("sub", "username", "sid", "jti")
    if not all(isinstance(claims[name], str) and claims[name] for name in fields):
        raise TokenError("invalid token")
    role = claims.get("role", DEFAULT_ROLE)
    if role not in ROLES:
        raise TokenError("invalid token")
    return TokenClaims(
        user_id=claims["sub"],
        username=claims["username"],
        session_id=claims["sid"],
        token_id=claims["jti"],
        type=claims["type"],
        expires_at=int(claims["exp"]),
        role=role,
    )
