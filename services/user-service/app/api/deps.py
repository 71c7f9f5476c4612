"""Dependencies shared by the routes, declared as Annotated types."""

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.core.backends import Backends
from app.core.config import Settings
from app.core.ratelimit import client_subject
from app.core.security import TokenError, decode_token
from app.core.sessions import Session, SessionStore
from servicekit.deps import get_backends, get_settings
from servicekit.http import ServiceClient
from servicekit.internal import caller_of

# The caller whose X-Real-IP is believed: the one public door.
GATEWAY = "api-gateway"

# auto_error=False: a missing header must give our 401 with WWW-Authenticate, not a bare 403.
_bearer = HTTPBearer(auto_error=False, description="access token from /auth/login")


def get_db(backends: Annotated[Backends, Depends(get_backends)]) -> ServiceClient:
    return backends.db


def get_sessions(backends: Annotated[Backends, Depends(get_backends)]) -> SessionStore:
    return backends.sessions


def get_client_address(request: Request) -> str:
    """The client the limits count (see client_subject): the gateway's X-Real-IP, else the peer.

    X-Real-IP is believed only when the request's internal credential is the gateway's
    (servicekit.internal): another caller could send the header to pick a fresh budget.
    """
    claimed = request.headers.get("x-real-ip", "").strip()
    if claimed and caller_of(request.scope) == GATEWAY:
        return client_subject(claimed)
    return client_subject(request.client.host if request.client else "unknown")


def unauthorized(detail: str) -> HTTPException:
    """A 401 that tells a Bearer client what went wrong (RFC 6750)."""
    challenge = f'Bearer error="invalid_token", error_description="{detail}"'
    return HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail=detail,
        headers={"WWW-Authenticate": challenge},
    )


SettingsDep = Annotated[Settings, Depends(get_settings)]
BackendsDep = Annotated[Backends, Depends(get_backends)]
DatabaseDep = Annotated[ServiceClient, Depends(get_db)]
SessionStoreDep = Annotated[SessionStore, Depends(get_sessions)]
ClientAddress = Annotated[str, Depends(get_client_address)]


async def get_current_session(
    settings: SettingsDep,
    sessions: SessionStoreDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Session:
    """The session of a valid access token whose session still exists; 401 otherwise."""
    if credentials is None:
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="not authenticated: send Authorization: Bearer <access token>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    try:
        claims = decode_token(
            credentials.credentials, secret=settings.jwt_secret, expected_type="access"
        )
    except TokenError as exc:
        raise unauthorized(str(exc)) from None
    session = await sessions.get(claims.session_id)
    if session is None:
        raise unauthorized("session revoked")
    if session.user_id != claims.user_id:
        raise unauthorized("invalid token")
    return session


CurrentSession = Annotated[Session, Depends(get_current_session)]
