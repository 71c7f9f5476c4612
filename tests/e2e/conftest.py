"""End-to-end fixtures: the running stack, reached on 127.0.0.1 only, and one real series
replayed through it that the data and model tests share."""

import base64
import hashlib
import hmac
import json
import time
import uuid

import httpx
import pytest
from websockets.sync.client import ClientConnection, connect

from toolkit import envfile, loadgen, stack

GATEWAY = "http://127.0.0.1:8000"


@pytest.fixture(scope="session")
def gateway():
    with httpx.Client(base_url=GATEWAY, timeout=30) as client:
        yield client


@pytest.fixture(scope="session", autouse=True)
def fresh_login_windows() -> None:
    # Every request from this host reaches user-service from one address, so the logins and
    # registrations of earlier runs within the windows would count against this one.
    stack.forget_client_windows()


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


def user_id(access_token: str) -> str:
    """The `sub` claim: the user id the gateway forwards as X-User-Id."""
    payload = access_token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["sub"]


WS_URL = GATEWAY.replace("http://", "ws://") + "/api/data-bridge/ws"
BARS = 600  # EURUSD hourly bars replayed: indicator warm-ups, and enough to train models on


def wait_for(what: str, check, timeout: float = 60.0, every: float = 0.25):
    """Poll `check` until it returns something truthy; fail naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every)
    pytest.fail(f"{what}: not reached in {timeout:.0f}s (last seen: {last!r})")


def receive_json(ws: ClientConnection, timeout: float = 10.0) -> dict:
    return json.loads(ws.recv(timeout=timeout))


@pytest.fixture(scope="session")
def token(gateway: httpx.Client) -> str:
    _, tokens = register_and_login(gateway)
    return tokens["access_token"]


@pytest.fixture(scope="session")
def admin_token(gateway: httpx.Client) -> str:
    """The first admin's access token (the env file's ADMIN_USERNAME / ADMIN_PASSWORD, which
    user-service made at its first start): replays, ticks, feeds and training need it."""
    login = gateway.post("/auth/login", json=loadgen.admin_credentials())
    assert login.status_code == 200, f"admin login: {login.status_code} {login.text}"
    return login.json()["access_token"]


@pytest.fixture(scope="session")
def replay(gateway: httpx.Client, token: str, admin_token: str) -> dict:
    """A slice of the real EURUSD series replayed under a symbol of this run (by the admin), a
    user's subscriber connected through the gateway before it starts: what it saw, and the
    replay."""
    symbol = f"EU{uuid.uuid4().hex[:8].upper()}"
    with connect(f"{WS_URL}?token={token}", open_timeout=10) as ws:
        ws.send(
            json.dumps(
                {"op": "subscribe", "symbols": [symbol], "channels": ["ticks", "candles:1h"]}
            )
        )
        started = gateway.post(
            "/api/data-bridge/replays",
            json={"series": "EURUSD", "symbol": symbol, "speed": 0, "limit": BARS},
            headers=bearer(admin_token),
        )
        assert started.status_code == 202, started.text
        body = started.json()
        seen = []
        while len(seen) < 5:
            message = receive_json(ws)
            if message.get("type") == "tick":
                seen.append(message)
    return {**body, "symbol": symbol, "live_ticks": seen}


@pytest.fixture(scope="session")
def stored(gateway: httpx.Client, token: str, replay: dict) -> dict:
    """The replay, once data-bridge has finished it (every bar sent to storage)."""

    def finished():
        state = gateway.get(
            f"/api/data-bridge/replays/{replay['replay_id']}", headers=bearer(token)
        )
        assert state.status_code == 200, state.text
        return state.json() if state.json()["state"] != "running" else None

    final = wait_for("replay finished", finished)
    assert final["state"] == "done", final

    def candles_stored():
        # data-bridge sends candles to storage in batches after the replay itself is done.
        answer = gateway.get(
            "/api/trading-engine/indicators",
            params={"symbol": replay["symbol"], "interval": "1h", "limit": 2 * BARS},
            headers=bearer(token),
        )
        return answer.status_code == 200 and len(answer.json()["close"]) >= BARS - 1

    wait_for("the replay's candles stored", candles_stored)
    return {**replay, **final}
