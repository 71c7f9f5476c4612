"""Invalid market input is a 422 and stores nothing: one bad tick refuses its whole batch."""

import json

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from app.core.config import Settings
from app.market.models import BATCH_MAX_TICKS, CANDLES_MAX, EPOCH_MS_MAX, CandlesUpsert
from tests.utils import EPOCH_MS, new_batch, new_symbol


def tick_count(client: TestClient, auth: dict[str, str], **params: str) -> int:
    response = client.get("/market/ticks/count", params=params, headers=auth)
    assert response.status_code == 200, response.text
    return response.json()["count"]


@pytest.mark.parametrize(
    "overrides",
    [
        {"batch_id": ""},
        {"batch_id": "x" * 65},
        {"batch_id": "has space"},
        {"batch_id": "a/b"},
        {"batch_id": 12},
        {"source": ""},
        {"source": "has space"},
        {"source": "x" * 129},
        {"ticks": []},
        {"extra": "field"},
    ],
)
def test_invalid_batch_fields_are_422(
    client: TestClient, auth: dict[str, str], overrides: dict
) -> None:
    symbol = new_symbol()
    body = new_batch(symbol, n=5, **overrides)
    response = client.post("/market/ticks", json=body, headers=auth)
    assert response.status_code == 422, response.text
    assert tick_count(client, auth, symbol=symbol) == 0


@pytest.mark.parametrize(
    "bad",
    [
        {"symbol": "lower"},
        {"symbol": ""},
        {"symbol": "A" * 17},
        {"symbol": "A B"},
        {"symbol": "A/B"},
        {"ts_ms": -1},
        {"ts_ms": EPOCH_MS_MAX + 1},
        {"ts_ms": "1700000000000"},
        {"ts_ms": 1.7e12},
        {"ts_ms": True},
        {"price": 0},
        {"price": -1.5},
        {"price": "101.5"},
        {"price": None},
        {"volume": -0.001},
        {"volume": "1"},
        {"side": "buy"},
    ],
)
def test_one_invalid_tick_refuses_the_batch(
    client: TestClient, auth: dict[str, str], bad: dict
) -> None:
    symbol = new_symbol()
    body = new_batch(symbol, n=5)
    body["ticks"][-1].update(bad)
    response = client.post("/market/ticks", json=body, headers=auth)
    assert response.status_code == 422, response.text
    # The error points at the offending tick.
    assert any(e["loc"][:3] == ["body", "ticks", 4] for e in response.json()["detail"])
    assert tick_count(client, auth, symbol=symbol) == 0
    assert tick_count(client, auth, source=body["source"]) == 0


@pytest.mark.parametrize("field", ["symbol", "ts_ms", "price", "volume"])
def test_a_tick_missing_a_field_is_422(
    client: TestClient, auth: dict[str, str], field: str
) -> None:
    body = new_batch(new_symbol(), n=2)
    del body["ticks"][0][field]
    assert client.post("/market/ticks", json=body, headers=auth).status_code == 422


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity"])
@pytest.mark.parametrize("field", ["price", "volume"])
def test_non_finite_numbers_are_422(
    client: TestClient, auth: dict[str, str], token: str, field: str
) -> None:
    # Python's JSON parser accepts these tokens; they must not reach ClickHouse.
    body = new_batch(new_symbol(), n=3)
    body["ticks"][1][field] = "__TOKEN__"
    content = json.dumps(body).replace('"__TOKEN__"', token).encode()
    headers = {**auth, "content-type": "application/json"}
    response = client.post("/market/ticks", content=content, headers=headers)
    assert response.status_code == 422, response.text
    assert tick_count(client, auth, source=body["source"]) == 0


def test_more_than_50000_ticks_is_422(client: TestClient, auth: dict[str, str]) -> None:
    symbol = new_symbol()
    response = client.post("/market/ticks", json=new_batch(symbol, n=50_001), headers=auth)
    assert response.status_code == 422, response.text
    assert tick_count(client, auth, symbol=symbol) == 0


def good_candle(symbol: str) -> dict:
    return {
        "symbol": symbol,
        "interval": "5m",
        "start_ms": EPOCH_MS,
        "open": 10.0,
        "high": 12.0,
        "low": 9.0,
        "close": 11.0,
        "volume": 1.0,
        "ticks": 2,
    }


@pytest.mark.parametrize(
    "bad",
    [
        {"interval": "2m"},
        {"interval": "1M"},
        {"start_ms": EPOCH_MS + 60_000},  # a minute boundary, not a 5-minute one
        {"start_ms": -300_000},
        {"high": 10.5},  # below the close
        {"low": 10.5},  # above the open
        {"open": 8.0},  # below the low
        {"close": 0},
        {"volume": -1.0},
        {"ticks": -1},
        {"ticks": 1.5},
        {"symbol": "bad"},
        {"extra": 1},
    ],
)
def test_invalid_candles_are_422_and_store_nothing(
    client: TestClient, auth: dict[str, str], bad: dict
) -> None:
    symbol = new_symbol()
    candles = [good_candle(symbol), {**good_candle(symbol), **bad}]
    response = client.post("/market/candles", json={"candles": candles}, headers=auth)
    assert response.status_code == 422, response.text
    found = client.get("/market/candles", params={"symbol": symbol, "interval": "5m"}, headers=auth)
    assert found.json()["candles"] == []


def test_a_candle_body_is_bounded() -> None:
    with pytest.raises(ValidationError, match="at most 50000 items"):
        CandlesUpsert.model_validate({"candles": [good_candle("A")] * (CANDLES_MAX + 1)})


def test_the_widest_full_batch_fits_the_body_limit(settings: Settings) -> None:
    # Longest symbol and ids, 13-digit times, floats of the longest repr: still under 413.
    tick = {"symbol": "X" * 16, "ts_ms": EPOCH_MS_MAX, "price": 1.2345678901234567e-100}
    tick["volume"] = tick["price"]
    body = {"batch_id": "b" * 64, "source": "s" * 128, "ticks": [tick] * BATCH_MAX_TICKS}
    assert len(json.dumps(body).encode()) < settings.max_body_bytes


@pytest.mark.parametrize(
    "params",
    [
        {"interval": "1m"},
        {"symbol": "AAA"},
        {"symbol": "aaa", "interval": "1m"},
        {"symbol": "AAA", "interval": "2m"},
        {"symbol": "AAA", "interval": "1m", "limit": 0},
        {"symbol": "AAA", "interval": "1m", "limit": 100_001},
        {"symbol": "AAA", "interval": "1m", "start_ms": -1},
        {"symbol": "AAA", "interval": "1m", "end_ms": "soon"},
    ],
)
def test_invalid_candle_queries_are_422(
    client: TestClient, auth: dict[str, str], params: dict
) -> None:
    response = client.get("/market/candles", params=params, headers=auth)
    assert response.status_code == 422, response.text


@pytest.mark.parametrize("params", [{"symbol": "bad sym"}, {"symbol": ""}, {"source": ""}])
def test_invalid_count_filters_are_422(
    client: TestClient, auth: dict[str, str], params: dict
) -> None:
    response = client.get("/market/ticks/count", params=params, headers=auth)
    assert response.status_code == 422, response.text
