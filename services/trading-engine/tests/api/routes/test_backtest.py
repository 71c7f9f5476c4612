"""POST /backtest on candles stored in the real database-service."""

import math

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app import backtest
from app.strategies import SmaCrossParams, sma_cross
from tests.utils import close_candles, frame_to_candles, real_series, unique_symbol


@pytest.fixture(scope="module")
def five_days(store_candles) -> tuple[str, list[dict]]:
    symbol = unique_symbol()
    candles = close_candles(symbol, "1d", [100.0, 110.0, 99.0, 99.0, 108.9])
    store_candles(candles)
    return symbol, candles


def _post(client: TestClient, **body) -> dict:
    response = client.post("/backtest", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_given_positions_by_hand(client: TestClient, five_days) -> None:
    symbol, candles = five_days
    body = _post(
        client,
        symbol=symbol,
        interval="1d",
        strategy="positions",
        positions=[1, 1, 0, 0, 0],
        fee_bps=10,
        initial_equity=1000,
    )
    # As worked out in tests/test_backtest.py: growth 0.999, 1.1, 0.9 * 0.999, 1, 1.
    equity = [999.0, 1098.9, 988.02099, 988.02099, 988.02099]
    assert [point["equity"] for point in body["equity_curve"]] == pytest.approx(equity)
    assert [point["position"] for point in body["equity_curve"]] == [1, 1, 0, 0, 0]
    assert [point["start_ms"] for point in body["equity_curve"]] == [c["start_ms"] for c in candles]
    assert body["final_equity"] == pytest.approx(988.02099)
    assert body["total_return"] == pytest.approx(-0.01197901)
    assert body["max_drawdown"] == pytest.approx(0.1009)  # 1 - 988.02099 / 1098.9
    # Returns -0.001, 0.1, -0.1009, 0, 0: mean -0.00038, sample variance 0.005045272.
    assert body["sharpe"] == pytest.approx(-0.00038 / math.sqrt(0.005045272) * math.sqrt(365))
    assert body["bars_per_year"] == 365
    assert body["exposure"] == pytest.approx(0.5)
    assert body["buy_and_hold_return"] == pytest.approx(0.089)
    assert body["trades"] == [
        {
            "side": "long",
            "entry_ms": candles[0]["start_ms"],
            "entry_price": 100.0,
            "exit_ms": candles[2]["start_ms"],
            "exit_price": 99.0,
            "pnl": pytest.approx(-11.97901),  # 1000 * (0.998001 * 0.99 - 1)
            "return": pytest.approx(-0.01197901),
            "open": False,
        }
    ]
    assert (body["trades_count"], body["win_rate"]) == (1, 0.0)


def test_bars_per_year_annualises(client: TestClient, five_days) -> None:
    symbol, _ = five_days
    common = {"symbol": symbol, "interval": "1d", "strategy": "positions"}
    daily = _post(client, **common, positions=[1, 1, 0, 0, 0], fee_bps=10)
    trading_days = _post(client, **common, positions=[1, 1, 0, 0, 0], fee_bps=10, bars_per_year=252)
    assert trading_days["sharpe"] == pytest.approx(daily["sharpe"] * math.sqrt(252 / 365))


def test_a_short_reversal_by_hand(client: TestClient, store_candles) -> None:
    symbol = unique_symbol()
    store_candles(close_candles(symbol, "1h", [100.0, 90.0, 99.0, 99.0]))
    body = _post(
        client,
        symbol=symbol,
        interval="1h",
        strategy="positions",
        positions=[-1, 1, 1, 0],
        fee_bps=100,
        initial_equity=1,
    )
    # Growth 0.99, 1.1 * 0.99^2, 1.1, 0.99 (see tests/test_backtest.py).
    curve = [point["equity"] for point in body["equity_curve"]]
    assert curve == pytest.approx([0.99, 1.0673289, 1.17406179, 1.1623211721])
    assert [t["side"] for t in body["trades"]] == ["short", "long"]
    assert [t["return"] for t in body["trades"]] == pytest.approx([0.07811, 0.07811])
    assert body["bars_per_year"] == 8760


def test_a_rule_strategy_on_real_prices(client: TestClient, goog: str) -> None:
    params = {"fast": 20, "slow": 50, "allow_short": True}
    body = _post(
        client, symbol=goog, interval="1d", strategy="sma_cross", params=params, limit=1500
    )
    frame = real_series("GOOG").iloc[-1500:]
    candles = frame_to_candles(goog, "1d", frame)
    positions, _ = sma_cross(candles, SmaCrossParams(**params))
    expected = backtest.run(candles.close, positions, fee_bps=10, initial_equity=10_000)
    assert [p["position"] for p in body["equity_curve"]] == positions.astype(int).tolist()
    assert body["total_return"] == pytest.approx(expected.total_return, rel=1e-12)
    assert body["sharpe"] == pytest.approx(expected.sharpe, rel=1e-12)
    assert body["max_drawdown"] == pytest.approx(expected.max_drawdown, rel=1e-12)
    assert body["trades_count"] == len(expected.trades) > 10
    assert {t["side"] for t in body["trades"]} == {"long", "short"}
    product = math.prod(1 + t["return"] for t in body["trades"])
    assert product == pytest.approx(1 + body["total_return"], rel=1e-9)
    # Each trade enters where the position changes to its side.
    by_ms = {p["start_ms"]: p["position"] for p in body["equity_curve"]}
    for trade in body["trades"]:
        assert by_ms[trade["entry_ms"]] == (1 if trade["side"] == "long" else -1)


def test_a_window_of_candles(client: TestClient, goog: str) -> None:
    frame = real_series("GOOG")
    start, end = (int(frame.index[i].timestamp() * 1000) for i in (100, 400))
    body = _post(
        client, symbol=goog, interval="1d", strategy="macd_cross", start_ms=start, end_ms=end
    )
    assert (body["first_candle_ms"], body["last_candle_ms"]) == (
        start,
        int(frame.index[399].timestamp() * 1000),
    )
    assert body["candles"] == 300
    assert body["buy_and_hold_return"] == pytest.approx(
        frame["Close"].iloc[399] / frame["Close"].iloc[100] - 1
    )


def test_ml_trades_only_after_training(client: TestClient, eurusd: str) -> None:
    body = _post(
        client,
        symbol=eurusd,
        interval="1h",
        strategy="ml",
        params={"train_fraction": 0.6, "margin": 0.02},
        limit=1200,
    )
    positions = np.array([p["position"] for p in body["equity_curve"]])
    last_train_row = 33 + int((1200 - 34) * 0.6) - 1
    assert not positions[: last_train_row + 1].any()
    assert set(np.unique(positions)) <= {0, 1}
    assert body["params"]["train_fraction"] == 0.6
    assert body["trades_count"] >= 1


def test_unknown_symbol_is_404(client: TestClient) -> None:
    body = {"symbol": unique_symbol(), "interval": "1d", "strategy": "sma_cross"}
    assert client.post("/backtest", json=body).status_code == 404


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"strategy": "positions"}, "needs `positions`"),
        ({"strategy": "sma_cross", "positions": [0, 1]}, "only for strategy 'positions'"),
        ({"strategy": "positions", "positions": [0, 1], "params": {"a": 1}}, "takes no"),
        ({"strategy": "positions", "positions": [0, 1], "limit": 3}, "but 2 positions"),
        ({"strategy": "positions", "positions": [1]}, "at least 2 positions"),
        ({"strategy": "positions", "positions": [0, 2]}, ["body", "positions", 1]),
        ({"strategy": "sma_cross", "params": {"fast": "x"}}, ["body", "params", "fast"]),
        ({"strategy": "sma_cross", "params": {"period": 3}}, ["body", "params", "period"]),
        ({"strategy": "hodl"}, ["body", "strategy"]),
        ({"strategy": "sma_cross", "fee_bps": 5000}, ["body", "fee_bps"]),
        ({"strategy": "sma_cross", "extra": 1}, ["body", "extra"]),
        ({"strategy": "sma_cross", "limit": 10}, "limit=10 is too small"),
    ],
)
def test_bad_requests_are_422(client: TestClient, body: dict, expected) -> None:
    response = client.post("/backtest", json={"symbol": "ABC", "interval": "1d", **body})
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    if isinstance(expected, list):
        assert expected in [error["loc"] for error in detail]
    else:
        assert expected in detail


def test_too_few_candles_is_409(client: TestClient, five_days) -> None:
    symbol, _ = five_days
    body = {"symbol": symbol, "interval": "1d", "strategy": "positions", "positions": [0] * 6}
    response = client.post("/backtest", json=body)
    assert response.status_code == 409
    assert (
        "a backtest of 6 positions needs at least 6 candles; 5 1d candles"
        in response.json()["detail"]
    )
    response = client.post(
        "/backtest", json={**body, "strategy": "rsi_reversion", "positions": None}
    )
    assert response.status_code == 409
    assert "a backtest of rsi_reversion needs at least 16 candles" in response.json()["detail"]
