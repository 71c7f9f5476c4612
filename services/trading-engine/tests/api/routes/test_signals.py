"""GET /signals: the strategies' calls on stored candles, and their cache in real Redis."""

import threading

import numpy as np
import pytest
import redis
from fastapi.testclient import TestClient

from app import signals
from app.core.config import Settings
from app.strategies import RULES
from tests.utils import close_candles, frame_to_candles, real_series, unique_symbol

RULE_NAMES = list(RULES)


def _signal(client: TestClient, symbol: str, interval: str, strategy: str, **params) -> dict:
    query = {"symbol": symbol, "interval": interval, "strategy": strategy, **params}
    response = client.get("/signals", params=query)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("strategy", RULE_NAMES)
def test_rule_signals_follow_the_positions(client: TestClient, goog: str, strategy: str) -> None:
    body = _signal(client, goog, "1d", strategy, limit=500, allow_short="true")
    frame = real_series("GOOG").iloc[-500:]
    rule = RULES[strategy]
    positions, _ = rule.positions(
        frame_to_candles(goog, "1d", frame), rule.params_model(allow_short=True)
    )
    change = np.sign(positions[-1] - positions[-2])
    assert body["signal"] == {1: "buy", -1: "sell", 0: "hold"}[change]
    assert body["position"] == {1: "long", 0: "flat", -1: "short"}[positions[-1]]
    assert body["last_candle_ms"] == int(frame.index[-1].timestamp() * 1000)
    assert body["last_close"] == frame["Close"].iloc[-1]
    assert body["candles"] == 500 and body["params"]["allow_short"] is True


def test_a_crossing_on_the_last_candle_is_a_buy(client: TestClient, store_candles) -> None:
    symbol = unique_symbol()
    # Falling for 40 hours, then a jump: SMA(3) crosses above SMA(5) on the last candle only.
    closes = [100.0 - i for i in range(40)] + [90.0]
    store_candles(close_candles(symbol, "1h", closes))
    body = _signal(client, symbol, "1h", "sma_cross", fast=3, slow=5)
    assert (body["signal"], body["position"]) == ("buy", "long")
    assert body["details"]["sma_fast"] == pytest.approx((62 + 61 + 90) / 3)


def test_ml_signal_reports_its_honest_scores(client: TestClient, eurusd: str) -> None:
    body = _signal(client, eurusd, "1h", "ml", limit=2000, model="logistic")
    details = body["details"]
    assert body["signal"] in {"buy", "sell", "hold"}
    assert 0 < details["p_up"] < 1
    assert 0 <= details["holdout_accuracy"] <= 1 and 0 <= details["baseline_accuracy"] <= 1
    # 2,000 candles: 33 warming up, the last unlabelled; 20% of the 1,966 held out.
    assert (details["train_rows"], details["test_rows"]) == (1572, 394)
    assert details["features"] == [
        "return_1", "return_5", "rsi", "macd_hist_rel", "bb_percent_b", "atr_rel"
    ]  # fmt: skip
    expected = {"buy": "long", "sell": "flat", "hold": "flat"}[body["signal"]]
    assert body["position"] == expected


def test_cache_hit_then_a_new_candle_misses(
    client: TestClient, store_candles, redis_client: redis.Redis, settings: Settings
) -> None:
    symbol = unique_symbol()
    closes = [100 + 10 * np.sin(i / 5) for i in range(80)]
    candles = close_candles(symbol, "1m", closes)
    store_candles(candles)

    first = _signal(client, symbol, "1m", "rsi_reversion")
    assert first["cached"] is False
    keys = redis_client.keys(f"{signals.CACHE_PREFIX}:{symbol}:1m:rsi_reversion:*")
    assert len(keys) == 1
    assert str(candles[-1]["start_ms"]) in keys[0]
    assert 0 < redis_client.ttl(keys[0]) <= settings.signal_cache_ttl

    second = _signal(client, symbol, "1m", "rsi_reversion")
    assert second["cached"] is True
    assert {**second, "cached": False} == first

    # Other parameters are another entry.
    assert _signal(client, symbol, "1m", "rsi_reversion", period=7)["cached"] is False
    assert _signal(client, symbol, "1m", "rsi_reversion", limit=50)["cached"] is False
    assert _signal(client, symbol, "1m", "rsi_reversion", period=7)["cached"] is True

    # The still-forming last candle changes: its signal is computed again.
    store_candles(
        close_candles(symbol, "1m", [*closes[:-1], closes[-1] + 5.0], candles[0]["start_ms"])
    )
    changed = _signal(client, symbol, "1m", "rsi_reversion")
    assert changed["cached"] is False and changed["last_candle_ms"] == first["last_candle_ms"]
    assert changed["last_close"] == pytest.approx(closes[-1] + 5.0)

    # A new candle: a new key, computed afresh.
    store_candles(close_candles(symbol, "1m", [*closes, 120.0], candles[0]["start_ms"])[-1:])
    third = _signal(client, symbol, "1m", "rsi_reversion")
    assert third["cached"] is False
    assert third["last_candle_ms"] == first["last_candle_ms"] + 60_000
    assert _signal(client, symbol, "1m", "rsi_reversion")["cached"] is True


def test_ml_is_cached_too(client: TestClient, eurusd: str) -> None:
    first = _signal(client, eurusd, "1h", "ml", model="forest", limit=400)
    second = _signal(client, eurusd, "1h", "ml", model="forest", limit=400)
    assert (first["cached"], second["cached"]) == (False, True)
    assert second["details"] == first["details"]


def test_computation_runs_in_the_pool(client: TestClient, eurusd: str, monkeypatch) -> None:
    threads: list[str] = []
    original = signals.compute_signal

    def recording(*args, **kwargs):
        threads.append(threading.current_thread().name)
        return original(*args, **kwargs)

    monkeypatch.setattr("app.api.routes.signals.compute_signal", recording)
    _signal(client, eurusd, "1h", "macd_cross", fast=3, slow=17, signal=4)
    assert len(threads) == 1 and threads[0].startswith("trading-cpu")
    assert client.app.state.backends.pool._max_workers == client.app.state.settings.threads


def test_unknown_symbol_is_404(client: TestClient) -> None:
    query = {"symbol": unique_symbol(), "interval": "1d", "strategy": "sma_cross"}
    assert client.get("/signals", params=query).status_code == 404


@pytest.mark.parametrize(
    ("params", "loc"),
    [
        ({"strategy": "magic"}, ["query", "strategy"]),
        ({"fast": "x"}, ["query", "fast"]),
        ({"period": 5}, ["query", "period"]),  # not a parameter of sma_cross
        ({"fast": 40}, ["query"]),  # fast must be smaller than slow
        ({"strategy": "ml", "model": "svm"}, ["query", "model"]),
        ({"strategy": "rsi_reversion", "lower": 80}, ["query"]),
    ],
)
def test_bad_parameters_are_422(client: TestClient, goog: str, params: dict, loc: list) -> None:
    query = {"symbol": goog, "interval": "1d", "strategy": "sma_cross", **params}
    response = client.get("/signals", params=query)
    assert response.status_code == 422, response.text
    assert loc in [error["loc"] for error in response.json()["detail"]]


def test_too_few_candles(client: TestClient, store_candles) -> None:
    symbol = unique_symbol()
    store_candles(close_candles(symbol, "1h", [100.0 + (i % 5) for i in range(60)]))
    # sma_cross(10, 30) needs 31 candles (SMA(30) exists from bar 29, and 2 bars of it): fine.
    # ml needs 33 warming up + 63 labelled (50 to train, ceil(0.2 * 63) = 13 held out) + the
    # last one: 97, so 409, saying how many.
    assert _signal(client, symbol, "1h", "sma_cross")["candles"] == 60
    response = client.get("/signals", params={"symbol": symbol, "interval": "1h", "strategy": "ml"})
    assert response.status_code == 409
    assert response.json()["detail"] == (
        "not enough candles: ml needs at least 97 candles; 60 1h candles of "
        f"{symbol} were available"
    )
    # A limit below the need can never work: 422.
    query = {"symbol": symbol, "interval": "1h", "strategy": "sma_cross", "limit": 20}
    response = client.get("/signals", params=query)
    assert response.status_code == 422
    assert "limit=20 is too small: sma_cross needs at least 31 candles" in response.json()["detail"]
