"""POST /forecast from stored candles or explicit closes, and every refusal."""

import pytest
from fastapi.testclient import TestClient

from servicekit.market import INTERVAL_MS
from tests.utils import SMALL, eurusd_closes, unique_symbol

NEEDED = SMALL["window"] + 1


def history(count: int = 60) -> list[float]:
    return [float(c) for c in eurusd_closes()[2000 : 2000 + count]]


def test_forecast_from_stored_candles(client: TestClient, trained: dict, eurusd: str) -> None:
    body = {"symbol": eurusd, "interval": "1h", "horizon": 2}
    response = client.post("/forecast", json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["version"] >= trained["version"] and answer["source"] == "store"
    assert answer["horizon"] == 2 and [s["step"] for s in answer["steps"]] == [1, 2]
    assert answer["last_close"] == pytest.approx(float(eurusd_closes()[-1]))
    for step in answer["steps"]:
        assert step["lower"] <= step["close"] <= step["upper"]
        assert step["start_ms"] == answer["last_start_ms"] + step["step"] * INTERVAL_MS["1h"]
    assert answer["band"]["level"] == 0.95 and "validation" in answer["band"]["method"]
    assert set(answer["metrics"]) >= {"val_loss", "baseline_val_loss"}


def test_forecast_from_history_is_deterministic(client: TestClient, trained: dict) -> None:
    body = {"history": history(), "version": trained["version"]}
    first = client.post("/forecast", json=body)
    assert first.status_code == 200, first.text
    answer = first.json()
    assert answer["source"] == "history" and answer["last_start_ms"] is None
    assert len(answer["steps"]) == SMALL["horizon"]  # the forecaster's own horizon by default
    assert all(s["lower"] <= s["close"] <= s["upper"] for s in answer["steps"])
    assert client.post("/forecast", json=body).json() == answer
    # Only the last window + 1 closes count.
    shorter = {**body, "history": body["history"][-NEEDED:]}
    assert client.post("/forecast", json=shorter).json()["steps"] == answer["steps"]


def test_history_too_short_says_how_many(client: TestClient, trained: dict) -> None:
    body = {"history": history(NEEDED - 1), "version": trained["version"]}
    response = client.post("/forecast", json=body)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert f"needs at least {NEEDED}" in detail and f"has {NEEDED - 1} closes" in detail


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "-Infinity", "0", "-1.2"])
def test_non_finite_or_non_positive_closes_are_422(client: TestClient, trained, bad) -> None:
    closes = ", ".join(["1.1"] * 30 + [bad])
    raw = f'{{"history": [{closes}], "version": {trained["version"]}}}'
    response = client.post("/forecast", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", "history", 30]


@pytest.mark.parametrize(
    "body",
    [
        {"history": [[1.1, 1.2], [1.3, 1.4]]},
        {"history": "1.1,1.2,1.3"},
        {"history": {"close": [1.1]}},
        {"history": [1.1, "x"]},
        {"horizon": 0, "history": [1.1]},
        {"history": [1.1], "extra": True},
    ],
)
def test_wrong_shapes_are_422(client: TestClient, body: dict) -> None:
    assert client.post("/forecast", json=body).status_code == 422


def test_neither_symbol_nor_history_is_422(client: TestClient) -> None:
    for body in ({}, {"symbol": "ABC"}, {"interval": "1h"}):
        response = client.post("/forecast", json=body)
        assert response.status_code == 422
        assert "symbol and interval" in response.text


def test_horizon_beyond_the_trained_one_is_422(client: TestClient, trained: dict) -> None:
    body = {"history": history(), "version": trained["version"], "horizon": 50}
    response = client.post("/forecast", json=body)
    assert response.status_code == 422
    assert f"at most {SMALL['horizon']} steps" in response.json()["detail"]


def test_unknown_version_is_404(client: TestClient) -> None:
    response = client.post("/forecast", json={"history": history(), "version": 987654})
    assert response.status_code == 404
    assert "987654" in response.json()["detail"]


def test_history_too_long_is_413(client: TestClient, settings, trained: dict) -> None:
    body = {"history": [1.1] * (settings.max_history + 1), "version": trained["version"]}
    assert client.post("/forecast", json=body).status_code == 413


def test_no_trained_forecaster_is_409_with_the_fix(make_client, tmp_path) -> None:
    empty = make_client(checkpoint_dir=tmp_path / "none")
    symbol = unique_symbol()
    response = empty.post("/forecast", json={"symbol": symbol, "interval": "1h"})
    assert response.status_code == 409
    detail = response.json()["detail"]
    assert f"no trained forecaster for {symbol} 1h" in detail
    assert "POST /forecasters/train" in detail and symbol in detail
    response = empty.post("/forecast", json={"history": history()})
    assert response.status_code == 409
    assert "POST /forecasters/train" in response.json()["detail"]


def test_too_few_stored_candles_for_the_window_is_409(
    client: TestClient, trained: dict, store_candles
) -> None:
    from tests.utils import eurusd_candles

    symbol = unique_symbol()
    store_candles(eurusd_candles(symbol, 5))
    body = {"symbol": symbol, "interval": "1h", "version": trained["version"]}
    response = client.post("/forecast", json=body)
    assert response.status_code == 409
    assert f"needs at least {NEEDED} candles" in response.json()["detail"]
