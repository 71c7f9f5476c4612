"""Helpers the tests share: settings for the test upstreams, tokens, sessions, addresses."""

import os
import secrets
import time
import uuid
from dataclasses import dataclass

import jwt

from app.core.config import Settings
from app.ratelimit import WINDOW_SECONDS
from servicekit.tokens import ISSUER

SECRET = os.environ["JWT_SECRET"]
REDIS_URL = os.environ["REDIS_URL"]
SLOW_DELAY = 3.0
TIMEOUT = 0.5
MAX_BODY = 4096
WS_MAX_MESSAGE = 8192
# Short, so a revoked session ends an open WebSocket within a test's patience.
WS_SESSION_CHECK = 0.2


@dataclass(frozen=True)
class Upstreams:
    echo: str
    slow: str
    dead: str
    garbage: str
    garbage_connections: list[int]
    silent: str
    models: str
    resetting: str
    resetting_connections: dict[str, int]


def settings_for(servers: Upstreams, /, **overrides) -> Settings:
    """Gateway settings routing to the test upstreams (Redis and secret from the env)."""
    values = {
        "upstreams": {
            "user-service": servers.echo,
            "echo-service": servers.echo,
            "slow-service": servers.slow,
            "down-service": servers.dead,
            "garbage-service": servers.garbage,
            "resetting-service": servers.resetting,
            "database-service": servers.echo,  # configured, yet never public
            "models-service": servers.models,  # public only where a test says so
        },
        "public_services": [
            "echo-service",
            "slow-service",
            "down-service",
            "garbage-service",
            "resetting-service",
        ],
        "upstream_timeout": TIMEOUT,
        "max_body_bytes": MAX_BODY,
        "ws_max_message_bytes": WS_MAX_MESSAGE,
        "ws_session_check_seconds": WS_SESSION_CHECK,
        **overrides,
    }
    return Settings(**values)


def away_from_window_end(margin: float = 3.0) -> None:
    """Fixed windows reset on the minute; a test straddling the reset would count wrong."""
    left = WINDOW_SECONDS - time.time() % WINDOW_SECONDS
    if left < margin:
        time.sleep(left + 0.05)


def unique_peer() -> tuple[str, int]:
    """A client address no other test (or test run) shares, so rate-limit counts are ours."""
    return (f"10.{secrets.randbelow(256)}.{secrets.randbelow(256)}.{secrets.randbelow(256)}", 40000)


def make_token(
    *,
    sub: str | None = None,
    sid: str | None = None,
    username: str = "alice",
    token_type: str = "access",  # noqa: S107 - a JWT type, not a password
    secret: str = SECRET,
    expires_in: int = 300,
    issuer: str = ISSUER,
    algorithm: str = "HS256",
    role: object = None,  # None: no claim at all, as in tokens minted before roles
) -> str:
    now = int(time.time())
    claims = {
        "sub": sub or str(uuid.uuid4()),
        "username": username,
        "sid": sid or uuid.uuid4().hex,
        "jti": uuid.uuid4().hex,
        "type": token_type,
        "iat": now,
        "exp": now + expires_in,
        "iss": issuer,
    }
    if role is not None:
        claims["role"] = role
    return jwt.encode(claims, secret, algorithm=algorithm)


@dataclass(frozen=True)
class Session:
    user_id: str
    username: str
    sid: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def header_values(echoed: dict, name: str) -> list[str]:
    """Every value the echo upstream received for header `name`."""
    return [value for key, value in echoed["headers"] if key.lower() == name.lower()]
