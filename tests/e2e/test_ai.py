"""Tiers 3-4 through the gateway: ai-provider's OpenAI-compatible API with its offline
default, and ai-orchestration's market brief, each part checked against the service that owns
it (asked directly, through the gateway, for the same thing)."""

import math
import uuid

import httpx
import pytest

from tests.e2e.conftest import bearer, register_and_login, user_id, wait_for
from toolkit import stack

pytestmark = pytest.mark.docker

AI = "/api/ai-provider"
BRIEF = "/api/ai-orchestration/workflows/market-brief"
ML = "/api/ml-processing"
DL = "/api/deep-learning"
TE = "/api/trading-engine"
HORIZON = 3


def _finished(gateway: httpx.Client, token: str, url: str):
    def check():
        job = gateway.get(url, headers=bearer(token)).json()
        return job if job["state"] in {"succeeded", "failed", "cancelled"} else None

    return check


@pytest.fixture(scope="module")
def models(gateway: httpx.Client, token: str, admin_token: str, stored: dict) -> dict:
    """A promoted ml-processing model and a deep-learning forecaster for the replayed symbol,
    trained by the admin (training needs the role)."""
    symbol = stored["symbol"]
    model = gateway.post(
        f"{ML}/models/train",
        json={"symbol": symbol, "interval": "1h", "model": "sklearn", "promote": True},
        headers=bearer(admin_token),
    )
    assert model.status_code == 202, model.text
    forecaster = gateway.post(
        f"{DL}/forecasters/train",
        json={"symbol": symbol, "interval": "1h", "window": 16, "horizon": HORIZON, "epochs": 2},
        headers=bearer(admin_token),
    )
    assert forecaster.status_code == 202, forecaster.text
    ml_job = wait_for(
        "model training",
        _finished(gateway, token, f"{ML}/jobs/{model.json()['id']}"),
        timeout=180,
        every=1.0,
    )
    dl_job = wait_for(
        "forecaster training",
        _finished(gateway, token, f"{DL}/forecasters/jobs/{forecaster.json()['job_id']}"),
        timeout=240,
        every=1.0,
    )
    assert ml_job["state"] == "succeeded", ml_job
    assert dl_job["state"] == "succeeded", dl_job
    return {"symbol": symbol, "model": ml_job["version"], "forecaster": dl_job["version"]}


def test_the_provider_answers_offline_and_accounts_per_user(gateway: httpx.Client) -> None:
    _, tokens = register_and_login(gateway)
    headers = bearer(tokens["access_token"])
    listed = gateway.get(f"{AI}/v1/models", headers=headers)
    assert listed.status_code == 200, listed.text
    offline = [m for m in listed.json()["data"] if m["offline"]]
    assert [m["id"] for m in offline] == ["offline-template"]

    question = f"- symbol: EURUSD\n- note: e2e {uuid.uuid4().hex[:8]}"
    body = {"model": "auto", "messages": [{"role": "user", "content": question}]}
    first = gateway.post(f"{AI}/v1/chat/completions", json=body, headers=headers)
    assert first.status_code == 200, first.text
    answer = first.json()
    assert answer["object"] == "chat.completion"
    assert answer["model"] == "offline-template"  # no provider is configured on this machine
    assert "EURUSD" in answer["choices"][0]["message"]["content"]
    assert answer["usage"]["prompt_tokens"] > 0
    assert answer["provider"]["cache"] == "miss"
    again = gateway.post(f"{AI}/v1/chat/completions", json=body, headers=headers)
    assert again.json()["provider"]["cache"] == "exact"
    assert again.json()["choices"] == answer["choices"]

    stats = gateway.get(f"{AI}/stats", headers=headers).json()
    assert stats["scope"] == "user"  # a user's own figures, nobody else's
    mine = stats["cost"]["by_user"][user_id(tokens["access_token"])]
    assert mine["requests"] == 1  # the cached answer costs nothing and is not a provider call
    assert mine["prompt_tokens"] == answer["usage"]["prompt_tokens"]
    assert mine["cost_usd"] == 0  # the offline writer is free
    assert stats["cache"]["exact_hits"] >= 1


def test_the_provider_refuses_bad_input(gateway: httpx.Client, token: str) -> None:
    url = f"{AI}/v1/chat/completions"
    unknown = gateway.post(
        url,
        json={"model": "no-such-model", "messages": [{"role": "user", "content": "hi"}]},
        headers=bearer(token),
    )
    assert unknown.status_code == 404, unknown.text
    assert "offline-template" in unknown.text  # it lists the models there are
    empty = gateway.post(url, json={"model": "auto", "messages": []}, headers=bearer(token))
    assert empty.status_code == 422
    bad_role = gateway.post(
        url,
        json={"model": "auto", "messages": [{"role": "wizard", "content": "hi"}]},
        headers=bearer(token),
    )
    assert bad_role.status_code == 422
    assert gateway.post(url, json={"model": "auto", "messages": []}).status_code == 401


def test_the_market_brief_is_made_of_each_owners_answers(
    gateway: httpx.Client, token: str, models: dict
) -> None:
    symbol = models["symbol"]
    ask = {"symbol": symbol, "interval": "1h", "horizon": HORIZON, "cache": False}
    made = gateway.post(BRIEF, json=ask, headers=bearer(token))
    assert made.status_code == 200, made.text
    brief = made.json()
    assert brief["status"] == "complete", brief["missing"]
    assert brief["missing"] == []
    assert brief["cached"] is False
    parts = brief["parts"]
    assert {name: part["source"] for name, part in parts.items()} == {
        "candles": "database-service",
        "indicators": "trading-engine",
        "signal": "trading-engine",
        "prediction": "ml-processing",
        "forecast": "deep-learning",
    }

    # trading-engine: the same signal for the same last candle.
    signal = gateway.get(
        f"{TE}/signals",
        params={
            "symbol": symbol,
            "interval": "1h",
            "strategy": parts["signal"]["strategy"],
            "limit": brief["inputs"]["candles"],
        },
        headers=bearer(token),
    ).json()
    assert parts["signal"]["signal"] == signal["signal"]
    assert parts["signal"]["last_candle_ms"] == signal["last_candle_ms"]
    assert parts["candles"]["last_start_ms"] == signal["last_candle_ms"]

    # ml-processing: the active model's probability for the latest features row.
    features = gateway.get(
        f"{ML}/features",
        params={"symbol": symbol, "interval": "1h", "rows": 1},
        headers=bearer(token),
    ).json()
    predicted = gateway.post(
        f"{ML}/predict", json={"features": features["rows"][-1]}, headers=bearer(token)
    ).json()
    assert parts["prediction"]["version"] == predicted["version"] == models["model"]
    assert math.isclose(parts["prediction"]["probability"], predicted["probability"])

    # deep-learning: the same forecast from the same forecaster.
    forecast = gateway.post(
        f"{DL}/forecast",
        json={"symbol": symbol, "interval": "1h", "horizon": HORIZON},
        headers=bearer(token),
    ).json()
    assert parts["forecast"]["version"] == forecast["version"] == models["forecaster"]
    assert [s["close"] for s in parts["forecast"]["steps"]] == [
        s["close"] for s in forecast["steps"]
    ]

    # ai-provider wrote the text, with a model it lists.
    listed = gateway.get(f"{AI}/v1/models", headers=bearer(token)).json()
    assert brief["brief"]["source"] == "ai-provider"
    assert brief["brief"]["model"] in {m["id"] for m in listed["data"]}
    assert symbol in brief["brief"]["text"]

    # The same input again is the cached result; cache=false is always a new run.
    cached_ask = {**ask, "cache": True}
    first = gateway.post(BRIEF, json=cached_ask, headers=bearer(token)).json()
    second = gateway.post(BRIEF, json=cached_ask, headers=bearer(token)).json()
    assert second["cached"] is True
    assert second["brief"]["text"] == first["brief"]["text"]
    stats = gateway.get("/api/ai-orchestration/stats", headers=bearer(token)).json()
    assert stats["cache"]["hits"] >= 1
    assert stats["max_running_seen"] <= stats["max_concurrent"] == 5


def test_a_brief_without_the_forecast_tier_says_what_is_missing(
    gateway: httpx.Client, token: str, models: dict
) -> None:
    compose = stack.compose(["full"]).compose
    compose.stop(["deep-learning"])
    try:
        made = gateway.post(
            BRIEF,
            json={"symbol": models["symbol"], "interval": "1h", "cache": False},
            headers=bearer(token),
        )
        assert made.status_code == 200, made.text
        brief = made.json()
        assert brief["status"] == "partial"
        assert "forecast" not in (k for k, v in brief["parts"].items() if v)
        missing = {m["part"]: m for m in brief["missing"]}
        assert set(missing) == {"forecast"}
        assert missing["forecast"]["service"] == "deep-learning"
        assert "deep-learning" in missing["forecast"]["reason"]
        assert brief["parts"]["prediction"]["source"] == "ml-processing"
    finally:
        compose.start(["deep-learning"])

    def healthy():
        answer = gateway.get(f"{DL}/forecasters", headers=bearer(token))
        return answer.status_code == 200

    wait_for("deep-learning back", healthy, timeout=120, every=1.0)


def test_the_market_brief_refuses_bad_input(gateway: httpx.Client, token: str) -> None:
    unknown = gateway.post(
        BRIEF, json={"symbol": "NOSUCH" + uuid.uuid4().hex[:6].upper()}, headers=bearer(token)
    )
    assert unknown.status_code == 404, unknown.text
    bad = gateway.post(BRIEF, json={"symbol": "eur usd"}, headers=bearer(token))
    assert bad.status_code == 422
    assert gateway.post(BRIEF, json={"symbol": "EURUSD"}).status_code == 401
