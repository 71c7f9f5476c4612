"""Access-token verification: signature, issuer, expiry, token type and a live session."""

import logging
from dataclasses import dataclass

import jwt
from fastapi import HTTPException, status

from servicekit import tokens

log = logging.getLogger("app.security")

REQUIRED_CLAIMS = ["sub", "sid", "type", "iat", "exp", "iss"]
NO_CREDENTIALS = "missing bearer token"
# Least privileged first; tokens minted before roles existed carry none and speak for a user.
ROLES = ("user", "admin")
DEFAULT_ROLE = "user"


@dataclass(frozen=True)
class Identity:
    """Who a verified access token speaks for."""

    user_id: str
    username: str
    session_id: str
    role: str = DEFAULT_ROLE


def session_key(session_id: str) -> str:
    """The Redis key user-service keeps a session under; logout deletes it."""
    return f"session:{session_id}"


def unauthorized(detail: str) -> HTTPException:
    """401 with the challenge RFC 6750 asks for (an error code only when a token was sent)."""
    challenge = "Bearer" if detail == NO_CREDENTIALS else 'Bearer error="invalid_token"'
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": challenge}
    )


def bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` header."""
    scheme, _, token = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorized(NO_CREDENTIALS)
    return token.strip()


def decode_access_token(token: str, secret: str) -> Identity:
    """Verify an access token's signature and claims (not its session)."""
    try:
        claims = tokens.decode(token, secret, REQUIRED_CLAIMS)
    except jwt.ExpiredSignatureError:
        raise unauthorized("token expired") from None
    except jwt.InvalidTokenError as exc:
        raise unauthorized(f"invalid token: {exc}") from None
    if claims.get("type") != "access":
        raise unauthorized("invalid token: not an access token")
    sid, username = claims.get("sid"), claims.get("username", "")
    if not isinstance(sid, str) or not sid or not isinstance(username, str):
        raise unauthorized("invalid token: malformed sid or username claim")
    role = claims.get("role", DEFAULT_ROLE)
    if not isinstance(role, str) or role not in ROLES:
        raise unauthorized("invalid token: unknown role")
    return Identity(user_id=claims["sub"], username=username, session_id=sid, role=role)


def require_session(identity: Identity, alive: bool | None) -> Identity:
    """`identity` if its session still exists (so logout is immediate): `alive` is Redis's
    answer, None when it gave none (app.ratelimit.Count asks in the request's one round
    trip). Fail closed: without the session store a logged-out token would still pass."""
    if alive is None:
        log.warning("session check failed: the session store did not answer")
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail="session store unavailable")
    if not alive:
        raise unauthorized("session revoked")
    return identity
