"""trading-engine's CPU work, in process: the six indicators on 10,000 candles, the classifier's
training and prediction, a backtest, and /indicators through the real app and database-service.

The 10,000 candles are the real EURUSD hourly series (5,000 bars) followed by its own
bar-to-bar moves once more, so the prices stay real-looking without inventing any.
"""

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from app import backtest, indicators, ml
from app.api.routes.indicators import render
from app.indicators import INDICATOR_NAMES, IndicatorParams
from app.strategies import MlParams, SmaCrossParams, sma_cross
from servicekit.market import Candles
from tests.utils import frame_candles, frame_to_candles, real_series, unique_symbol

BARS = 10_000


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    """10,000 hourly OHLCV bars: EURUSD, then EURUSD's moves again from its last close."""
    real = real_series("EURUSD")
    scale = real["Close"].iloc[-1] / real["Open"].iloc[0]
    again = real[["Open", "High", "Low", "Close"]] * scale
    again["Volume"] = real["Volume"]
    again.index = real.index[-1] + pd.Timedelta(hours=1) + (real.index - real.index[0])
    frame = pd.concat([real, again])
    assert len(frame) == BARS and frame.index.is_monotonic_increasing
    return frame


@pytest.fixture(scope="module")
def candles(frame: pd.DataFrame) -> Candles:
    return frame_to_candles("BENCH", "1h", frame)


def test_six_indicators_10k(benchmark, candles: Candles) -> None:
    out = benchmark(indicators.compute, candles, INDICATOR_NAMES, IndicatorParams())
    assert set(out) == set(INDICATOR_NAMES)
    assert not np.isnan(out["macd"]["hist"][-1])


def test_six_indicators_10k_as_json(benchmark, candles: Candles) -> None:
    """What the pool does for GET /indicators: compute, turn NaN into null, serialise."""
    body = benchmark(render, candles, list(INDICATOR_NAMES), IndicatorParams())
    assert body.count(b"null") > 0


def test_ml_logistic_train_and_predict_10k(benchmark, candles: Candles) -> None:
    prediction = benchmark(ml.predict_last, candles, MlParams(model="logistic"))
    assert prediction.train_rows + prediction.test_rows == BARS - 1 - ml.FEATURE_LOOKBACK


def test_ml_forest_train_and_predict_2k(benchmark, candles: Candles) -> None:
    fields = ("start_ms", "open", "high", "low", "close", "volume", "ticks")
    last_2k = Candles("BENCH", "1h", **{f: getattr(candles, f)[-2000:] for f in fields})
    prediction = benchmark.pedantic(
        ml.predict_last, args=(last_2k, MlParams(model="forest")), rounds=3, iterations=1
    )
    assert 0 < prediction.p_up < 1


def test_backtest_sma_cross_10k(benchmark, candles: Candles) -> None:
    def run() -> backtest.BacktestResult:
        positions, _ = sma_cross(candles, SmaCrossParams(allow_short=True))
        return backtest.run(candles.close, positions, fee_bps=10, bars_per_year=8760)

    result = benchmark(run)
    assert len(result.trades) > 100


@pytest.fixture(scope="module")
def stored(frame: pd.DataFrame, store_candles) -> str:
    symbol = unique_symbol()
    store_candles(frame_candles(symbol, "1h", frame))
    return symbol


def test_indicators_endpoint_10k(benchmark, client: TestClient, stored: str) -> None:
    """GET /indicators for 10,000 candles: fetch from database-service, parse, compute, JSON."""
    query = {"symbol": stored, "interval": "1h", "limit": BARS}
    response = benchmark(client.get, "/indicators", params=query)
    assert response.status_code == 200, response.text
    assert len(response.json()["start_ms"]) == BARS
