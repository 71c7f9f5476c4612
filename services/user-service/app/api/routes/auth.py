"""Register, log in, refresh, log out and read one's own profile."""

import logging
import uuid
from dataclasses import replace

from fastapi import APIRouter, BackgroundTasks, HTTPException, Response, status
from pydantic import ValidationError

from app import crud
from app.api.deps import (
    BackendsDep,
    ClientAddress,
    CurrentSession,
    DatabaseDep,
    SettingsDep,
    unauthorized,
)
from app.core.config import Settings
from app.core.security import (
    Role,
    TokenError,
    create_token,
    decode_token,
    dummy_hash,
    hash_password_async,
    hash_rounds,
    verify_password_async,
)
from app.core.sessions import Rotation, Session
from app.schemas import (
    LoginRequest,
    RefreshRequest,
    TokenPair,
    UserCreate,
    UserPublic,
    UserRecord,
    normalize_email,
    normalize_username,
)
from servicekit.http import ServiceClient

router = APIRouter(prefix="/auth", tags=["auth"])
log = logging.getLogger("user-service.auth")

INVALID_CREDENTIALS = "invalid username or password"
ACCOUNT_DISABLED = "account is disabled"
# One answer whether the username or the email is taken (database-service names which).
# A 409 cannot be avoided: the username must be unique and its chooser told. Not naming the
# field keeps the answer from saying which identifies an account, and a per-client limit
# bounds how fast anyone probes. A probe pairing a fresh username with someone's email still
# learns that the email is registered; hiding that needs a confirmation e-mail, which the
# platform does not send.
UNAVAILABLE = "username or email unavailable"


def _public(user: UserRecord) -> UserPublic:
    return UserPublic.model_validate(user.model_dump())


def _too_many(detail: str, retry_after: int) -> HTTPException:
    return HTTPException(
        status_code=status.HTTP_429_TOO_MANY_REQUESTS,
        detail=f"{detail}; retry in {retry_after} s",
        headers={"Retry-After": str(retry_after)},
    )


def _issue(settings: Settings, session: Session, role: Role) -> TokenPair:
    common = {
        "secret": settings.jwt_secret,
        "user_id": session.user_id,
        "username": session.username,
        "session_id": session.id,
    }
    access = create_token(kind="access", ttl=settings.access_token_ttl, role=role, **common)
    refresh = create_token(
        kind="refresh",
        ttl=settings.refresh_token_ttl,
        token_id=session.refresh_jti,
        **common,
    )
    return TokenPair(
        access_token=access, refresh_token=refresh, expires_in=settings.access_token_ttl
    )


def _no_store(response: Response) -> None:
    # Token responses must not be kept by caches or proxies (RFC 6749, 5.1).
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"


async def _find_account(db: ServiceClient, identifier: str) -> tuple[UserRecord | None, str]:
    """The user a login names (by username or email) and the key its failures count under."""
    text = identifier.strip()
    try:
        if "@" in text:
            name = normalize_email(text)
            user = await crud.get_user_by_email(db, name)
        else:
            name = normalize_username(text)
            user = await crud.get_user_by_username(db, name)
    except ValueError:
        # Not a possible username or address: no user, but it is limited and timed the same.
        return None, f"name:{text.lower()}"
    # Keyed by id when the account exists, so username and email share one failure budget.
    return user, (f"user:{user.id}" if user else f"name:{name}")


async def _upgrade_hash(db: ServiceClient, user: UserRecord, password: str, rounds: int) -> None:
    """Re-hash at the configured cost a password that was stored at a lower one."""
    try:
        new_hash = await hash_password_async(password, rounds)
        await crud.update_password_hash(db, str(user.id), new_hash)
    except crud.DatabaseServiceError as exc:
        log.warning("could not upgrade the password hash of %s: %s", user.id, exc)


@router.post("/register", response_model=UserPublic, status_code=status.HTTP_201_CREATED)
async def register(
    body: UserCreate,
    client: ClientAddress,
    backends: BackendsDep,
    db: DatabaseDep,
    settings: SettingsDep,
) -> UserPublic:
    """Create an account; the password is stored only as a bcrypt hash."""
    # Before the hash: a refused attempt must not cost bcrypt's time.
    decision = await backends.registrations.acquire(client)
    if not decision.allowed:
        log.warning("registrations over the limit", extra={"fields": {"client": client}})
        raise _too_many("too many registrations from this address", decision.retry_after)
    # Hashed before the store is asked, so a taken name answers in the same time as a new one.
    password_hash = await hash_password_async(body.password, settings.bcrypt_rounds)
    try:
        user = await crud.create_user(
            db, username=body.username, email=body.email, password_hash=password_hash
        )
    except crud.ConflictError as exc:
        log.info("registration refused: %s", exc, extra={"fields": {"client": client}})
        raise HTTPException(status_code=status.HTTP_409_CONFLICT, detail=UNAVAILABLE) from None
    log.info("registered %s", user.username, extra={"fields": {"user_id": str(user.id)}})
    return _public(user)


@router.post("/login", response_model=TokenPair)
async def login(
    body: LoginRequest,
    client: ClientAddress,
    backends: BackendsDep,
    settings: SettingsDep,
    response: Response,
    background: BackgroundTasks,
) -> TokenPair:
    """Check a password and open a session; failed logins are limited (app.core.loginguard)."""
    user, account = await _find_account(backends.db, body.username)
    # A place in the failure windows, taken before bcrypt runs: a refusal costs no check.
    attempt = await backends.logins.acquire(account, client)
    if not attempt.allowed:
        fields = {"account": account, "client": client, "limit": attempt.reason}
        log.warning("login refused", extra={"fields": fields})
        raise _too_many(attempt.reason, attempt.retry_after)

    # An unknown user still costs one bcrypt check, so timing does not reveal who exists.
    stored_hash = user.password_hash if user else dummy_hash(settings.bcrypt_rounds)
    valid = await verify_password_async(body.password, stored_hash)
    if user is None or not valid:
        # The attempt keeps its place: from now on it counts as a failure.
        log.info("login failed", extra={"fields": {"account": account, "client": client}})
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail=INVALID_CREDENTIALS,
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not user.is_active:
        await backends.logins.release(account, client, attempt.token)
        raise HTTPException(status_code=status.HTTP_403_FORBIDDEN, detail=ACCOUNT_DISABLED)

    await backends.logins.succeeded(account, client, attempt.token)
    rounds = hash_rounds(user.password_hash)
    if rounds is not None and rounds < settings.bcrypt_rounds:
        background.add_task(_upgrade_hash, backends.db, user, body.password, settings.bcrypt_rounds)
    session = await backends.sessions.create(user_id=str(user.id), username=user.username)
    log.info("logged in", extra={"fields": {"user_id": session.user_id, "sid": session.id}})
    _no_store(response)
    return _issue(settings, session, user.role)


@router.post("/refresh", response_model=TokenPair)
async def refresh(
    body: RefreshRequest, backends: BackendsDep, settings: SettingsDep, response: Response
) -> TokenPair:
    """Trade a refresh token for a new pair; an already used one revokes its session."""
    try:
        claims = decode_token(
            body.refresh_token, secret=settings.jwt_secret, expected_type="refresh"
        )
    except TokenError as exc:
        raise unauthorized(str(exc)) from None
    sessions = backends.sessions
    session = await sessions.get(claims.session_id)
    if session is None:
        raise unauthorized("session revoked")
    if session.user_id != claims.user_id:
        raise unauthorized("invalid token")
    if session.refresh_jti != claims.token_id:
        # Checked before database-service is asked, so a replay revokes even while it is down.
        await sessions.revoke(session.id)
        log.warning("refresh token reused", extra={"fields": {"sid": session.id}})
        raise unauthorized("refresh token already used: session revoked")

    # A refresh is where a disabled or deleted account loses its session.
    user = await crud.get_user(backends.db, session.user_id)
    if user is None:
        await sessions.revoke(session.id)
        raise unauthorized("session revoked")
    if not user.is_active:
        await sessions.revoke(session.id)
        raise HTTPException(status_code=status.HTTP_403_FORBIDDEN, detail=ACCOUNT_DISABLED)

    new_jti = uuid.uuid4().hex
    outcome = await sessions.rotate(session.id, claims.token_id, new_jti)
    if outcome is Rotation.MISSING:
        raise unauthorized("session revoked")
    if outcome is Rotation.REUSED:
        # Another refresh with this same token won the race: that is reuse too.
        log.warning("refresh token reused", extra={"fields": {"sid": session.id}})
        raise unauthorized("refresh token already used: session revoked")
    _no_store(response)
    # The role as stored now: a promotion or demotion reaches the next access token.
    session = replace(session, refresh_jti=new_jti, username=user.username)
    return _issue(settings, session, user.role)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(session: CurrentSession, backends: BackendsDep) -> Response:
    """End the session: its access and refresh tokens are refused from now on."""
    await backends.sessions.revoke(session.id)
    log.info("logged out", extra={"fields": {"user_id": session.user_id, "sid": session.id}})
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me", response_model=UserPublic)
async def read_me(session: CurrentSession, backends: BackendsDep) -> UserPublic:
    """The caller's profile, from database-service or the session's short-lived cache."""
    sessions = backends.sessions
    cached = await sessions.cached_profile(session.id)
    if cached:
        try:
            return UserPublic.model_validate_json(cached)
        except ValidationError:
            pass  # written by another version of this service: fetch it again
    user = await crud.get_user(backends.db, session.user_id)
    if user is None:
        await sessions.revoke(session.id)
        raise unauthorized("session revoked")
    if not user.is_active:
        await sessions.revoke(session.id)
        raise HTTPException(status_code=status.HTTP_403_FORBIDDEN, detail=ACCOUNT_DISABLED)
    profile = _public(user)
    await sessions.cache_profile(session.id, profile.model_dump_json())
    return profile
