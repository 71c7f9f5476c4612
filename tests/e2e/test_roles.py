"""Roles through the gateway: an ordinary user is refused the admin routes (403, before the
service is asked), the admin is let through, and ai-provider's /stats shows a user only
their own figures."""

import time
import uuid

import httpx
import pytest

from tests.e2e.conftest import bearer, register_and_login, user_id

pytestmark = pytest.mark.docker

AI = "/api/ai-provider"
TICKS = "/api/data-bridge/ticks"
TRAIN = "/api/ml-processing/models/train"


def _unknown_tick() -> dict:
    """One tick of a symbol nobody declared: data-bridge counts it rejected, stores nothing."""
    symbol = f"RL{uuid.uuid4().hex[:8].upper()}"
    now = int(time.time() * 1000)
    return {"ticks": [{"symbol": symbol, "ts_ms": now, "price": 1.0, "volume": 1.0}]}


def test_an_ordinary_user_is_refused_the_admin_routes(gateway: httpx.Client) -> None:
    _, tokens = register_and_login(gateway)
    headers = bearer(tokens["access_token"])
    assert gateway.get("/auth/me", headers=headers).json()["role"] == "user"
    for path, body in ((TICKS, _unknown_tick()), (TRAIN, {})):
        refused = gateway.post(path, json=body, headers=headers)
        assert refused.status_code == 403, (path, refused.text)
        assert "needs the admin role" in refused.json()["detail"]
    # What the same user may do is untouched: reads, and the WebSocket's service.
    assert gateway.get("/api/data-bridge/series", headers=headers).status_code == 200
    assert gateway.get("/api/ml-processing/models", headers=headers).status_code == 200


def test_the_admin_is_let_through(gateway: httpx.Client, admin_token: str) -> None:
    headers = bearer(admin_token)
    assert gateway.get("/auth/me", headers=headers).json()["role"] == "admin"
    ticks = gateway.post(TICKS, json=_unknown_tick(), headers=headers)
    assert ticks.status_code == 202, ticks.text
    assert ticks.json()["rejected"] == {"unknown_symbol": 1}
    # An empty body reaches ml-processing, whose own validation answers (a list of errors).
    train = gateway.post(TRAIN, json={}, headers=headers)
    assert train.status_code == 422, train.text
    assert isinstance(train.json()["detail"], list)


def test_a_users_ai_stats_show_only_their_own_id(gateway: httpx.Client, admin_token: str) -> None:
    sessions = [register_and_login(gateway)[1]["access_token"] for _ in range(2)]
    for token in sessions:
        question = f"- symbol: EURUSD\n- note: roles {uuid.uuid4().hex[:8]}"
        body = {"model": "auto", "messages": [{"role": "user", "content": question}]}
        asked = gateway.post(f"{AI}/v1/chat/completions", json=body, headers=bearer(token))
        assert asked.status_code == 200, asked.text
    first, second = (user_id(token) for token in sessions)

    mine = gateway.get(f"{AI}/stats", headers=bearer(sessions[0])).json()
    assert mine["scope"] == "user" and mine["user"] == first
    assert list(mine["cost"]["by_user"]) == [first]
    assert mine["requests"] == 1
    assert "latency_ms" not in mine and "failures" not in mine
    # Claiming the role in a header of one's own changes nothing: the gateway writes it.
    claimed = {**bearer(sessions[0]), "X-User-Role": "admin"}
    assert gateway.get(f"{AI}/stats", headers=claimed).json()["scope"] == "user"

    everyone = gateway.get(f"{AI}/stats", headers=bearer(admin_token)).json()
    assert everyone["scope"] == "all"
    assert {first, second} <= set(everyone["cost"]["by_user"])
