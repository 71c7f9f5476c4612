"""POST /workflows/market-brief against the real services: each part is its owner's answer.

ml-processing and deep-learning run on the host stack but not in the test container; the
tests assert the complete brief where they run and the partial brief that says they are not
running where they do not (`optional_services`), so both halves are checked somewhere.
"""

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.utils import closed_url, serve, stand_in, unique_symbol

NOT_RUNNING = {
    "ml-processing": "ml-processing is not running (tier 4; start it with inv up --profile ai)",
    "deep-learning": "deep-learning is not running (tier 5; start it with inv up --profile full)",
    "trading-engine": "trading-engine is not running (tier 2; start it with inv up --profile data)",
}
INDICATORS = ("sma", "ema", "rsi", "atr", "macd", "bbands")


def brief(client: TestClient, **body) -> httpx.Response:
    return client.post("/workflows/market-brief", json=body)


def assert_written(answer: dict) -> None:
    """ai-provider wrote the brief: some text, the model that wrote it, what it cost."""
    written = answer["brief"]
    assert written["source"] == "ai-provider"
    assert isinstance(written["text"], str) and written["text"].strip()
    assert isinstance(written["model"], str) and written["model"]
    assert written["cache"] in ("miss", "exact", "semantic")
    assert written["cost_usd"] >= 0


def test_every_part_is_what_its_owner_answers(
    client: TestClient,
    eurusd: str,
    trained: dict,
    optional_services: dict[str, bool],
    database: httpx.Client,
    trading: httpx.Client,
    ml: httpx.Client,
    dl: httpx.Client,
) -> None:
    response = brief(client, symbol=eurusd, candles=400, cache=False)
    assert response.status_code == 200, response.text
    answer = response.json()
    parts = answer["parts"]
    assert (answer["workflow"], answer["symbol"], answer["interval"]) == (
        "market-brief",
        eurusd,
        "1h",
    )
    assert answer["cached"] is False and answer["total_ms"] > 0
    assert set(answer["timings_ms"]) >= {"candles", "cache", "queue", "brief"}
    assert_written(answer)

    query = {"symbol": eurusd, "interval": "1h", "limit": 400}
    stored = database.get("/market/candles", params=query).json()["candles"]
    assert parts["candles"] == {
        "source": "database-service",
        "count": 400,
        "first_start_ms": stored[0]["start_ms"],
        "last_start_ms": stored[-1]["start_ms"],
        "last_open": stored[-1]["open"],
        "last_high": stored[-1]["high"],
        "last_low": stored[-1]["low"],
        "last_close": stored[-1]["close"],
        "last_volume": stored[-1]["volume"],
    }

    computed = trading.get("/indicators", params=query).json()
    indicators = parts["indicators"]
    assert indicators["source"] == "trading-engine"
    assert indicators["start_ms"] == computed["start_ms"][-1] == stored[-1]["start_ms"]
    assert indicators["params"] == computed["params"]
    assert set(indicators["values"]) == set(INDICATORS)
    for name in ("sma", "ema", "rsi", "atr"):
        assert indicators["values"][name] == computed["indicators"][name][-1]
    for name in ("macd", "bbands"):
        assert indicators["values"][name] == {
            key: series[-1] for key, series in computed["indicators"][name].items()
        }

    called = trading.get("/signals", params=query | {"strategy": "sma_cross"}).json()
    signal = parts["signal"]
    assert signal["source"] == "trading-engine"
    for key in ("signal", "strategy", "params", "position", "last_candle_ms", "last_close"):
        assert signal[key] == called[key], key

    missing = {entry["part"]: entry for entry in answer["missing"]}
    if optional_services["ml-processing"]:
        features = ml.get("/features", params={**query, "rows": 1}).json()
        named = dict(zip(features["schema"], features["rows"][0], strict=True))
        predicted = ml.post("/predict", json={"features": named}).json()
        assert parts["prediction"] == {
            "source": "ml-processing",
            "version": predicted["version"],
            "kind": predicted["kind"],
            "probability": predicted["probability"],
            "class": predicted["class"],
            "start_ms": stored[-1]["start_ms"],
        }
        assert "prediction" not in missing
    else:
        assert parts["prediction"] is None
        assert missing["prediction"] == {
            "part": "prediction",
            "service": "ml-processing",
            "reason": NOT_RUNNING["ml-processing"],
        }

    if optional_services["deep-learning"]:
        forecast = dl.post("/forecast", json={"symbol": eurusd, "interval": "1h", "horizon": 5})
        forecast = forecast.json()
        assert parts["forecast"]["source"] == "deep-learning"
        for key in ("version", "horizon", "last_close", "last_start_ms", "steps", "band"):
            assert parts["forecast"][key] == forecast[key], key
        assert parts["forecast"]["version"] == trained["deep-learning"]["version"]
        assert len(parts["forecast"]["steps"]) == 5
        assert "forecast" not in missing
    else:
        assert parts["forecast"] is None
        assert missing["forecast"]["reason"] == NOT_RUNNING["deep-learning"]

    everything_runs = all(optional_services.values())
    assert answer["status"] == ("complete" if everything_runs else "partial")
    assert (answer["missing"] == []) is everything_runs


def test_unreachable_optional_services_leave_a_partial_brief(make_client, eurusd: str) -> None:
    client = make_client(
        trading_engine_url=closed_url(),
        ml_processing_url=closed_url(),
        deep_learning_url=closed_url(),
    )
    response = brief(client, symbol=eurusd, cache=False)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["status"] == "partial"
    assert answer["missing"] == [
        {
            "part": "indicators",
            "service": "trading-engine",
            "reason": NOT_RUNNING["trading-engine"],
        },
        {"part": "signal", "service": "trading-engine", "reason": NOT_RUNNING["trading-engine"]},
        {"part": "prediction", "service": "ml-processing", "reason": NOT_RUNNING["ml-processing"]},
        {"part": "forecast", "service": "deep-learning", "reason": NOT_RUNNING["deep-learning"]},
    ]
    parts = answer["parts"]
    assert parts["candles"]["source"] == "database-service"
    assert [parts[p] for p in ("indicators", "signal", "prediction", "forecast")] == [None] * 4
    assert_written(answer)


@pytest.mark.parametrize("retry_seconds", [60, 0])
def test_an_unreachable_service_is_not_asked_again_for_a_while(
    make_client, eurusd: str, retry_seconds: float
) -> None:
    client = make_client(deep_learning_url=closed_url(), peer_retry_seconds=retry_seconds)
    dl = client.app.state.peers.dl
    tries = []
    post = dl.client.post

    async def counted(path, **kwargs):
        tries.append(path)
        return await post(path, **kwargs)

    dl.client.post = counted
    reasons = []
    for _ in range(3):
        response = brief(client, symbol=eurusd, cache=False)
        assert response.status_code == 200, response.text
        reasons.append({m["part"]: m["reason"] for m in response.json()["missing"]}["forecast"])
    assert reasons == [NOT_RUNNING["deep-learning"]] * 3
    # Taken as down after the first failure; asked every time when the window is 0.
    assert tries == ["/forecast"] * (1 if retry_seconds else 3)
    assert dl.known_down() is bool(retry_seconds)


def test_a_symbol_without_a_forecaster_is_said(
    client: TestClient, fresh_symbol, optional_services: dict[str, bool]
) -> None:
    symbol = fresh_symbol(600)
    response = brief(client, symbol=symbol)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["status"] == "partial" and answer["parts"]["forecast"] is None
    reason = {m["part"]: m["reason"] for m in answer["missing"]}["forecast"]
    if optional_services["deep-learning"]:
        # deep-learning's own 409, passed on: it says how to train one.
        assert reason.startswith(
            f"deep-learning cannot forecast: no trained forecaster for {symbol}"
        )
        assert "POST /forecasters/train" in reason
    else:
        assert reason == NOT_RUNNING["deep-learning"]


def test_no_promoted_model_says_how_to_promote_one(make_client, eurusd: str) -> None:
    """The host's ml-processing has a promoted model, so a stand-in answers as it does with
    none (409 on /predict), after serving the features."""
    schema = ["ret_1", "ret_2"]
    ml_without_model = stand_in(
        {
            ("GET", "/features"): (
                200,
                {"schema": schema, "start_ms": [1], "rows": [[0.1, 0.2]]},
                0,
            ),
            ("POST", "/predict"): (409, {"detail": "no model is promoted yet"}, 0),
        }
    )
    with serve(ml_without_model) as url:
        client = make_client(ml_processing_url=url)
        response = brief(client, symbol=eurusd, cache=False)
    assert response.status_code == 200, response.text
    missing = {m["part"]: m for m in response.json()["missing"]}
    assert missing["prediction"] == {
        "part": "prediction",
        "service": "ml-processing",
        "reason": "ml-processing has no promoted model: POST /api/ml-processing/models/train "
        "with promote (ml-processing: no model is promoted yet)",
    }
    assert ml_without_model.state.calls == [("GET", "/features"), ("POST", "/predict")]


def test_a_slow_optional_step_times_out(make_client, eurusd: str) -> None:
    slow_forecaster = stand_in({("POST", "/forecast"): (200, {"version": 1}, 6.0)})
    with serve(slow_forecaster) as url:
        client = make_client(deep_learning_url=url, step_timeout=2)
        response = brief(client, symbol=eurusd, cache=False)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["parts"]["forecast"] is None
    assert {m["part"]: m for m in answer["missing"]}["forecast"] == {
        "part": "forecast",
        "service": "deep-learning",
        "reason": "timed out after 2 s",
    }
    assert answer["parts"]["indicators"]["source"] == "trading-engine"
    assert_written(answer)


def test_the_optional_steps_run_at_once(make_client, eurusd: str) -> None:
    """LangGraph's fan-out: each slow stand-in is called before the other has answered."""
    slow_ml = stand_in({("GET", "/features"): (404, {"detail": "no candles"}, 1.0)})
    slow_dl = stand_in({("POST", "/forecast"): (409, {"detail": "no forecaster"}, 1.0)})
    with serve(slow_ml) as ml_url, serve(slow_dl) as dl_url:
        client = make_client(ml_processing_url=ml_url, deep_learning_url=dl_url)
        response = brief(client, symbol=eurusd, cache=False)
    assert response.status_code == 200, response.text
    ((_, ml_arrived, ml_answered),) = slow_ml.state.spans
    ((_, dl_arrived, dl_answered),) = slow_dl.state.spans
    assert max(ml_arrived, dl_arrived) < min(ml_answered, dl_answered)
    reasons = {m["part"]: m["reason"] for m in response.json()["missing"]}
    assert reasons == {
        "prediction": "ml-processing answered 404 to GET /features: no candles",
        "forecast": "deep-learning cannot forecast: no forecaster",
    }


def test_an_unknown_symbol_is_404(client: TestClient) -> None:
    symbol = unique_symbol()
    response = brief(client, symbol=symbol)
    assert response.status_code == 404
    assert response.json()["detail"] == f"no 1h candles stored for {symbol} (database-service)"


def test_too_few_candles_is_409(client: TestClient, fresh_symbol) -> None:
    symbol = fresh_symbol(20)
    response = brief(client, symbol=symbol)
    assert response.status_code == 409
    body = response.json()
    assert body["detail"].startswith(f"only 20 1h candles of {symbol} are stored")
    assert (body["needed"], body["available"]) == (35, 20)


@pytest.mark.parametrize(
    "body",
    [
        {"symbol": "eurusd"},
        {"symbol": "TOO-LONG-A-SYMBOL-NAME"},
        {"symbol": "EURUSD", "interval": "2h"},
        {"symbol": "EURUSD", "candles": 34},
        {"symbol": "EURUSD", "horizon": 0},
        {"symbol": "EURUSD", "strategy": "astrology"},
        {"symbol": "EURUSD", "model": ""},
        {"symbol": "EURUSD", "colour": "blue"},
        {},
    ],
)
def test_bad_input_is_422(client: TestClient, body: dict) -> None:
    response = client.post("/workflows/market-brief", json=body)
    assert response.status_code == 422, response.text


def test_more_candles_than_allowed_is_422(client: TestClient, settings) -> None:
    response = brief(client, symbol="EURUSD", candles=settings.max_candles + 1)
    assert response.status_code == 422
    assert response.json()["detail"] == f"candles must be at most {settings.max_candles}"


def test_database_service_down_is_503(make_client, eurusd: str) -> None:
    client = make_client(database_service_url=closed_url())
    response = brief(client, symbol=eurusd)
    assert response.status_code == 503
    assert response.json()["detail"].startswith("database-service is unreachable")
    assert client.get("/stats").json()["failed"] == 1


def test_ai_provider_failing_is_502_with_its_detail(make_client, eurusd: str) -> None:
    failures = [{"model": "gpt-x", "provider": "openai", "error": "upstream 500"}]
    failing = stand_in(
        {
            ("POST", "/v1/chat/completions"): (
                502,
                {"detail": "every candidate model failed", "failures": failures},
                0,
            )
        }
    )
    with serve(failing) as url:
        client = make_client(ai_provider_url=url)
        response = brief(client, symbol=eurusd, cache=False)
    assert response.status_code == 502
    assert response.json() == {
        "detail": "ai-provider failed to write the brief (502): every candidate model failed",
        "failures": failures,
    }


def test_ai_provider_unreachable_is_502(make_client, eurusd: str) -> None:
    client = make_client(ai_provider_url=closed_url())
    response = brief(client, symbol=eurusd, cache=False)
    assert response.status_code == 502
    assert response.json()["detail"].startswith("ai-provider is unreachable")


def test_a_model_ai_provider_does_not_know_is_422(client: TestClient, eurusd: str) -> None:
    response = brief(client, symbol=eurusd, model="no-such-model", cache=False)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["detail"].startswith("ai-provider does not know model 'no-such-model'")
    assert "offline-template" in body["available"]


def test_the_caller_is_passed_on_to_ai_provider(
    client: TestClient, eurusd: str, provider: httpx.Client
) -> None:
    user_id = "ao-test-" + unique_symbol().lower()
    response = client.post(
        "/workflows/market-brief",
        json={"symbol": eurusd, "cache": False},
        headers={"X-User-Id": user_id, "X-Username": "orchestration-test"},
    )
    assert response.status_code == 200, response.text
    # ai-provider shows a user their own figures (everyone's only to an admin).
    by_user = provider.get("/stats", headers={"X-User-Id": user_id}).json()["cost"]["by_user"]
    assert by_user[user_id]["requests"] == 1
