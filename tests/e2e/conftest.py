"""End-to-end fixtures: the running core profile, reached on 127.0.0.1 only."""

import base64
import hashlib
import hmac
import json
import time
import uuid

import httpx
import pytest

from toolkit import envfile, stack

GATEWAY = "http://127.0.0.1:8000"


@pytest.fixture(scope="session")
def gateway():
    with httpx.Client(base_url=GATEWAY, timeout=30) as client:
        yield client


# Every request from this host reaches user-service from one address (the gateway appends
# the Docker bridge's), so login attempts from earlier runs within the window (5 min) count
# against this one: a second CI run right after a first would start rate-limited. Start from
# a clean slate by forgetting the per-address windows, and nothing else.
_FORGET = "for _, k in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('DEL', k) end"


@pytest.fixture(scope="session", autouse=True)
def fresh_login_windows() -> None:
    stack.compose(["core"]).compose.execute(
        "redis",
        [
            "sh",
            "-c",
            'redis-cli --no-auth-warning -a "$REDIS_PASSWORD" '
            f'EVAL "{_FORGET}" 0 "login:attempts:*"',
        ],
        tty=False,
    )


@pytest.fixture(scope="session")
def jwt_secret() -> str:
    return envfile.read()["JWT_SECRET"]


def new_user() -> dict:
    suffix = uuid.uuid4().hex[:10]
    return {
        "username": f"e2e_{suffix}",
        "email": f"e2e_{suffix}@example.com",
        "password": f"Correct-horse-{suffix}-9",
    }


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_token(secret: str, **claims) -> str:
    """An HS256 JWT made by hand, to forge and expire tokens without the services' code."""
    now = int(time.time())
    payload = {
        "iss": "tiered-platform",
        "type": "access",
        "iat": now,
        "exp": now + 600,
        "jti": uuid.uuid4().hex,
        **claims,
    }
    signing_input = (
        f"{_b64(json.dumps({'alg': 'HS256', 'typ': 'JWT'}).encode())}."
        f"{_b64(json.dumps(payload).encode())}"
    )
    signature = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def register_and_login(gateway: httpx.Client) -> tuple[dict, dict]:
    """A new user, registered and logged in through the gateway: (user, tokens)."""
    user = new_user()
    created = gateway.post("/auth/register", json=user)
    assert created.status_code == 201, created.text
    assert "password" not in created.text and "hash" not in created.text
    login = gateway.post(
        "/auth/login", json={"username": user["username"], "password": user["password"]}
    )
    assert login.status_code == 200, login.text
    return user, login.json()
