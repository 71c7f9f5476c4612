"""Tiers 4-5 through the gateway, on the candles the replay stored: a tabular model trained,
promoted and serving predictions (ml-processing); an LSTM trained and forecasting with a
band, and text embedded with packaged weights (deep-learning)."""

import math

import httpx
import pytest

from tests.e2e.conftest import bearer, wait_for

pytestmark = pytest.mark.docker

DL = "/api/deep-learning"


def test_a_forecaster_trains_on_stored_candles_and_forecasts(
    gateway: httpx.Client, token: str, admin_token: str, replay: dict
) -> None:
    body = {"symbol": replay["symbol"], "interval": "1h", "window": 16, "horizon": 3, "epochs": 2}
    started = gateway.post(f"{DL}/forecasters/train", json=body, headers=bearer(admin_token))
    assert started.status_code == 202, started.text
    job_url = f"{DL}/forecasters/jobs/{started.json()['job_id']}"

    def finished():
        job = gateway.get(job_url, headers=bearer(token)).json()
        return job if job["state"] in {"succeeded", "failed", "cancelled"} else None

    job = wait_for("forecaster training", finished, timeout=240, every=1.0)
    assert job["state"] == "succeeded", job
    assert math.isfinite(job["metrics"]["val_loss"])
    assert math.isfinite(job["metrics"]["baseline_val_loss"])

    forecast = gateway.post(
        f"{DL}/forecast",
        json={"symbol": replay["symbol"], "interval": "1h", "horizon": 3},
        headers=bearer(token),
    )
    assert forecast.status_code == 200, forecast.text
    result = forecast.json()
    assert result["version"] == job["version"]
    assert [s["step"] for s in result["steps"]] == [1, 2, 3]
    assert all(s["lower"] <= s["close"] <= s["upper"] for s in result["steps"])
    assert all(s["close"] > 0 for s in result["steps"])


def test_text_is_embedded_with_the_packaged_model(gateway: httpx.Client, token: str) -> None:
    texts = ["EUR/USD rallied after the rate decision", "The euro rose against the dollar"]

    def embedded():
        got = gateway.post(f"{DL}/embeddings", json={"texts": texts}, headers=bearer(token))
        return got if got.status_code == 200 else None  # the model loads after start

    body = wait_for("the embedding model", embedded, timeout=180, every=2.0).json()
    assert body["dimension"] == 384
    first, second = body["embeddings"]
    assert abs(sum(v * v for v in first) - 1.0) < 1e-3
    assert sum(a * b for a, b in zip(first, second, strict=True)) > 0.5  # related sentences


def test_model_services_refuse_bad_input(gateway: httpx.Client, token: str) -> None:
    short = gateway.post(f"{DL}/forecast", json={"history": [1.0, 1.1]}, headers=bearer(token))
    assert short.status_code in {409, 422}, short.text
    empty = gateway.post(f"{DL}/embeddings", json={"texts": []}, headers=bearer(token))
    assert empty.status_code == 422
    assert gateway.post(f"{DL}/embeddings", json={"texts": ["x"]}).status_code == 401


ML = "/api/ml-processing"


def test_a_model_trains_on_stored_candles_is_promoted_and_predicts(
    gateway: httpx.Client, token: str, admin_token: str, replay: dict
) -> None:
    body = {"symbol": replay["symbol"], "interval": "1h", "model": "xgboost", "promote": True}
    started = gateway.post(f"{ML}/models/train", json=body, headers=bearer(admin_token))
    assert started.status_code == 202, started.text
    job_url = f"{ML}/jobs/{started.json()['id']}"

    def finished():
        job = gateway.get(job_url, headers=bearer(token)).json()
        return job if job["state"] in {"succeeded", "failed"} else None

    job = wait_for("model training", finished, timeout=180, every=1.0)
    assert job["state"] == "succeeded", job
    assert 0 <= job["metrics"]["accuracy"] <= 1 and 0 <= job["metrics"]["auc"] <= 1
    active = gateway.get(f"{ML}/models/active", headers=bearer(token)).json()
    assert active["active"] == job["version"]

    features = gateway.get(
        f"{ML}/features",
        params={"symbol": replay["symbol"], "interval": "1h", "rows": 5},
        headers=bearer(token),
    ).json()
    rows = [row for row in features["rows"] if None not in row]
    assert rows
    one = gateway.post(f"{ML}/predict", json={"features": rows[-1]}, headers=bearer(token))
    assert one.status_code == 200, one.text
    assert one.json()["version"] == job["version"] and 0 <= one.json()["probability"] <= 1
    again = gateway.post(f"{ML}/predict", json={"features": rows[-1]}, headers=bearer(token))
    assert again.json()["cached"] is True
    assert again.json()["probability"] == one.json()["probability"]
    batch = gateway.post(f"{ML}/predict/batch", json={"rows": rows}, headers=bearer(token))
    assert batch.status_code == 200, batch.text
    assert batch.json()["probabilities"][-1] == one.json()["probability"]
    stats = gateway.get(f"{ML}/stats", headers=bearer(token)).json()
    assert stats["cache"]["hits"] >= 1

    wrong = gateway.post(f"{ML}/predict", json={"features": rows[-1][:-1]}, headers=bearer(token))
    assert wrong.status_code == 422
    unknown = gateway.post(
        f"{ML}/predict", json={"features": rows[-1], "version": 10**6}, headers=bearer(token)
    )
    assert unknown.status_code == 404
