"""GET /features: the rows of the latest stored candles, as training computes them."""

import numpy as np
from fastapi.testclient import TestClient

from app import features
from tests.utils import frame_candles, frame_to_candles, real_series, unique_symbol


def test_latest_rows_equal_the_training_features(client: TestClient, eurusd: str) -> None:
    response = client.get("/features", params={"symbol": eurusd, "interval": "1h", "rows": 5})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["schema"] == list(features.FEATURES)
    series = real_series("EURUSD")
    expected = features.build(frame_to_candles(eurusd, "1h", series))[-5:]
    np.testing.assert_array_equal(np.array(answer["rows"]), expected)
    assert answer["start_ms"] == [ts.value // 1_000_000 for ts in series.index[-5:]]


def test_warm_up_values_are_null(client: TestClient, store_candles) -> None:
    symbol = unique_symbol()
    store_candles(frame_candles(symbol, "1d", real_series("GOOG").iloc[:10]))
    answer = client.get("/features", params={"symbol": symbol, "interval": "1d", "rows": 3}).json()
    assert len(answer["rows"]) == 3
    assert answer["rows"][-1][features.FEATURES.index("ret_1")] is not None
    assert answer["rows"][-1][features.FEATURES.index("ret_20")] is None


def test_unknown_symbol_is_404(client: TestClient) -> None:
    query = {"symbol": unique_symbol(), "interval": "1h"}
    assert client.get("/features", params=query).status_code == 404
