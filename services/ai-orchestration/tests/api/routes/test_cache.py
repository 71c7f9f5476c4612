"""The result cache through the route: repeats hit, `cache: false` recomputes, new candles miss."""

from fastapi.testclient import TestClient

from tests.utils import HOUR_MS, eurusd_candles


def brief(client: TestClient, **body) -> dict:
    response = client.post("/workflows/market-brief", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_repeat_is_answered_from_the_cache(client: TestClient, fresh_symbol) -> None:
    symbol = fresh_symbol(600)
    before = client.get("/stats").json()["cache"]
    first = brief(client, symbol=symbol)
    again = brief(client, symbol=symbol)
    assert (first["cached"], again["cached"]) == (False, True)
    assert again["id"] == first["id"]
    for key in ("status", "brief", "parts", "missing", "computed_at_ms"):
        assert again[key] == first[key], key
    # A hit only read the candles and the cache: no queue, no data steps, no writer.
    assert set(again["timings_ms"]) == {"candles", "cache"}
    after = client.get("/stats").json()["cache"]
    assert after["hits"] == before["hits"] + 1
    assert after["misses"] == before["misses"] + 1

    other_input = brief(client, symbol=symbol, strategy="macd_cross")
    assert other_input["cached"] is False and other_input["id"] != first["id"]


def test_cache_false_recomputes_and_replaces_the_entry(client: TestClient, fresh_symbol) -> None:
    symbol = fresh_symbol(600)
    first = brief(client, symbol=symbol)
    fresh = brief(client, symbol=symbol, cache=False)
    assert fresh["cached"] is False and fresh["id"] != first["id"]
    assert fresh["brief"]["cache"] == "miss"  # ai-provider was told not to answer from its own
    assert brief(client, symbol=symbol)["id"] == fresh["id"]


def test_new_candles_make_a_new_brief(client: TestClient, fresh_symbol, store_candles) -> None:
    symbol = fresh_symbol(600)
    first = brief(client, symbol=symbol)
    assert brief(client, symbol=symbol)["cached"] is True

    next_candle = eurusd_candles(symbol, 601)[-1]
    store_candles([next_candle])
    newer = brief(client, symbol=symbol)
    assert newer["cached"] is False and newer["id"] != first["id"]
    candles = newer["parts"]["candles"]
    assert candles["last_start_ms"] == first["parts"]["candles"]["last_start_ms"] + HOUR_MS
    assert candles["last_close"] == next_candle["close"]

    # A correction of the forming candle (same start, another close) is new data too.
    store_candles([next_candle | {"close": next_candle["close"] + 0.001}])
    corrected = brief(client, symbol=symbol)
    assert corrected["cached"] is False
    assert corrected["parts"]["candles"]["last_close"] == next_candle["close"] + 0.001
