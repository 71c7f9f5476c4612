"""GET /indicators on candles stored in the real database-service, against TA-Lib itself.

The expected values are talib's functions called directly on the CSV columns of the real
series the `backtesting` package ships; the service reads the same prices back from storage.
"""

import numpy as np
import pandas as pd
import pytest
import talib
from fastapi.testclient import TestClient

from tests.utils import close_candles, real_series, unique_symbol

ALL = "sma,ema,rsi,macd,bbands,atr"


def _array(values: list) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def _expected(frame: pd.DataFrame, p: dict) -> dict:
    """talib on the CSV columns, in the API's shape."""
    close, high, low = (frame[c].to_numpy(np.float64) for c in ("Close", "High", "Low"))
    macd, signal, hist = talib.MACD(close, p["macd_fast"], p["macd_slow"], p["macd_signal"])
    upper, middle, lower = talib.BBANDS(
        close, p["bbands_period"], p["bbands_nbdev"], p["bbands_nbdev"]
    )
    return {
        "sma": talib.SMA(close, p["sma_period"]),
        "ema": talib.EMA(close, p["ema_period"]),
        "rsi": talib.RSI(close, p["rsi_period"]),
        "macd": {"macd": macd, "signal": signal, "hist": hist},
        "bbands": {"upper": upper, "middle": middle, "lower": lower},
        "atr": talib.ATR(high, low, close, p["atr_period"]),
    }


def _assert_same(got: dict, expected: dict) -> None:
    assert set(got) == set(expected)
    for name, value in expected.items():
        if isinstance(value, dict):
            assert set(got[name]) == set(value), name
            for part, array in value.items():
                # Bit for bit: the stored Float64 prices round-trip exactly through JSON.
                np.testing.assert_array_equal(_array(got[name][part]), array, err_msg=name)
        else:
            np.testing.assert_array_equal(_array(got[name]), value, err_msg=name)


DEFAULTS = {
    "sma_period": 20,
    "ema_period": 20,
    "rsi_period": 14,
    "macd_fast": 12,
    "macd_slow": 26,
    "macd_signal": 9,
    "bbands_period": 20,
    "bbands_nbdev": 2.0,
    "atr_period": 14,
}


def test_eurusd_hourly_equals_talib(client: TestClient, eurusd: str) -> None:
    frame = real_series("EURUSD")
    response = client.get(
        "/indicators", params={"symbol": eurusd, "interval": "1h", "limit": 5000, "names": ALL}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["start_ms"] == frame.index.as_unit("ms").asi8.tolist()
    assert body["close"] == frame["Close"].tolist()
    _assert_same(body["indicators"], _expected(frame, DEFAULTS))
    assert body["params"]["macd"] == {"fast": 12, "slow": 26, "signal": 9}
    # Warm-up values are null, not NaN (which is not JSON) and not dropped.
    assert body["indicators"]["sma"][:19] == [None] * 19
    assert body["indicators"]["sma"][19] is not None


def test_goog_daily_with_other_periods_equals_talib(client: TestClient, goog: str) -> None:
    periods = {
        "sma_period": 50,
        "ema_period": 9,
        "rsi_period": 7,
        "macd_fast": 5,
        "macd_slow": 35,
        "macd_signal": 5,
        "bbands_period": 10,
        "bbands_nbdev": 1.5,
        "atr_period": 21,
    }
    response = client.get("/indicators", params={"symbol": goog, "interval": "1d", **periods})
    assert response.status_code == 200, response.text
    body = response.json()
    # No limit: the latest 1,000 candles, and the indicators start afresh on them.
    frame = real_series("GOOG").iloc[-1000:]
    assert body["start_ms"] == frame.index.as_unit("ms").asi8.tolist()
    _assert_same(body["indicators"], _expected(frame, periods))
    assert body["params"]["bbands"] == {"period": 10, "nbdev": 1.5}


def test_only_the_named_indicators(client: TestClient, goog: str) -> None:
    response = client.get(
        "/indicators",
        params={"symbol": goog, "interval": "1d", "limit": 60, "names": "RSI, atr,rsi"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert list(body["indicators"]) == ["rsi", "atr"]
    assert list(body["params"]) == ["rsi", "atr"]
    assert len(body["start_ms"]) == 60


def test_unknown_symbol_is_404(client: TestClient) -> None:
    response = client.get("/indicators", params={"symbol": unique_symbol(), "interval": "1h"})
    assert response.status_code == 404
    assert "no 1h candles stored for" in response.json()["detail"]


def test_other_interval_of_a_stored_symbol_is_404(client: TestClient, goog: str) -> None:
    assert client.get("/indicators", params={"symbol": goog, "interval": "5m"}).status_code == 404


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"symbol": "lower"}, "symbol"),
        ({"interval": "2h"}, "interval"),
        ({"sma_period": 1}, "sma_period"),
        ({"rsi_period": "x"}, "rsi_period"),
        ({"bbands_nbdev": -1}, "bbands_nbdev"),
        ({"limit": 0}, "limit"),
        ({"sma_periodd": 5}, "sma_periodd"),
    ],
)
def test_bad_parameters_are_422(client: TestClient, params: dict, field: str) -> None:
    query = {"symbol": "ABC", "interval": "1h", **params}
    response = client.get("/indicators", params=query)
    assert response.status_code == 422, response.text
    assert ["query", field] in [error["loc"] for error in response.json()["detail"]]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"macd_fast": 30}, "macd_fast must be smaller than macd_slow"),
        ({"names": "sma,vwap"}, "unknown indicators: vwap"),
        ({"names": ","}, "unknown indicators: (none named)"),
        ({"limit": 100_001}, "limit must be at most"),
        ({"limit": 20, "names": "sma,macd"}, "limit=20 is too small"),
    ],
)
def test_impossible_requests_are_422(client: TestClient, params: dict, message: str) -> None:
    response = client.get("/indicators", params={"symbol": "ABC", "interval": "1h", **params})
    assert response.status_code == 422, response.text
    assert message in str(response.json()["detail"])


def test_too_few_stored_candles_is_409(client: TestClient, store_candles) -> None:
    symbol = unique_symbol()
    store_candles(close_candles(symbol, "5m", [float(x) for x in range(1, 31)]))
    response = client.get("/indicators", params={"symbol": symbol, "interval": "5m"})
    assert response.status_code == 409
    detail = response.json()["detail"]
    assert "needs at least 34 candles" in detail and "30 5m candles" in detail
    # Indicators whose warm-up fits are served.
    response = client.get(
        "/indicators", params={"symbol": symbol, "interval": "5m", "names": "sma"}
    )
    assert response.status_code == 200
    assert response.json()["indicators"]["sma"][19:21] == [10.5, 11.5]  # mean of 1..20, 2..21
