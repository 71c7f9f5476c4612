"""POST /forecasters/train on real EURUSD candles, the checkpoints it leaves, and restarts."""

import math

import pytest
from fastapi.testclient import TestClient

from app.forecasting.checkpoints import file_name
from app.forecasting.data import min_candles
from app.forecasting.model import ForecasterConfig
from tests.utils import SMALL, eurusd_candles, unique_symbol, wait_for_job


def test_training_leaves_a_checkpoint_with_finite_losses(
    client: TestClient, trained: dict, checkpoint_dir
) -> None:
    version = trained["version"]
    assert (checkpoint_dir / file_name(version)).is_file()
    assert not list(checkpoint_dir.glob(".forecaster-*"))
    metrics = trained["metrics"]
    for key in ("train_loss", "val_loss", "baseline_val_loss"):
        assert math.isfinite(metrics[key]), key
    assert metrics["baseline"].startswith("zero return")
    assert trained["candles"] == 600
    assert [e["epoch"] for e in trained["history"]] == [1, 2]

    listed = client.get("/forecasters").json()
    assert version in [f["version"] for f in listed]
    detail = client.get(f"/forecasters/{version}").json()
    assert detail["symbol"] == trained["symbol"] and detail["interval"] == "1h"
    assert detail["config"] == {**ForecasterConfig().as_dict(), **SMALL}
    assert detail["candles"] == 600
    assert detail["last_start_ms"] > detail["first_start_ms"]
    assert len(detail["band"]["residual_rms"]) == SMALL["horizon"]
    assert detail["metrics"] == metrics


def test_a_fresh_app_lists_and_loads_it(make_client, client: TestClient, trained: dict) -> None:
    body = {"symbol": trained["symbol"], "interval": "1h", "version": trained["version"]}
    before = client.post("/forecast", json=body)
    assert before.status_code == 200, before.text
    fresh = make_client()  # same CHECKPOINT_DIR, new process state
    versions = [f["version"] for f in fresh.get("/forecasters").json()]
    assert trained["version"] in versions
    after = fresh.post("/forecast", json=body)
    assert after.status_code == 200, after.text
    assert after.json() == before.json()


def test_one_training_at_a_time_and_cancel(client: TestClient, eurusd: str, checkpoint_dir) -> None:
    files = set(checkpoint_dir.iterdir())
    long_run = {"symbol": eurusd, "interval": "1h", "limit": 2_000, **SMALL, "epochs": 200}
    first = client.post("/forecasters/train", json=long_run)
    assert first.status_code == 202, first.text
    job_id = first.json()["job_id"]
    assert first.headers["location"] == f"/forecasters/jobs/{job_id}"

    second = client.post("/forecasters/train", json={"symbol": eurusd, "interval": "1h"})
    assert second.status_code == 409
    assert job_id in second.json()["detail"]

    assert client.delete(f"/forecasters/jobs/{job_id}").status_code == 202
    job = wait_for_job(client, job_id)
    assert job["state"] == "cancelled" and job["version"] is None
    assert set(checkpoint_dir.iterdir()) == files
    assert client.app.state.backends.trainer.active is None


def test_unknown_version_and_job_are_404(client: TestClient) -> None:
    assert client.get("/forecasters/999999").status_code == 404
    assert client.get("/forecasters/jobs/nope").status_code == 404
    assert client.delete("/forecasters/jobs/nope").status_code == 404
    assert client.get("/forecasters/not-a-number").status_code == 422


def test_no_candles_is_404(client: TestClient) -> None:
    response = client.post("/forecasters/train", json={"symbol": unique_symbol(), "interval": "1h"})
    assert response.status_code == 404
    assert "no 1h candles" in response.json()["detail"]
    assert client.app.state.backends.trainer.active is None


def test_too_few_stored_candles_is_409_with_the_count(client: TestClient, store_candles) -> None:
    symbol = unique_symbol()
    store_candles(eurusd_candles(symbol, 50))
    needed = min_candles(ForecasterConfig(**SMALL))
    body = {"symbol": symbol, "interval": "1h", **SMALL}
    response = client.post("/forecasters/train", json=body)
    assert response.status_code == 409
    assert f"needs at least {needed} candles" in response.json()["detail"]
    assert "50 1h candles" in response.json()["detail"]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"limit": 10}, "limit=10 is too small"),
        ({"limit": 10_000_000}, "limit must be at most"),
        ({"epochs": 10_000}, "epochs must be at most"),
        ({"window": 2}, "window"),
        ({"horizon": 0}, "horizon"),
        ({"interval": "2h"}, "interval"),
        ({"symbol": "lower"}, "symbol"),
        ({"windwo": 8}, "windwo"),
        ({"learning_rate": 0}, "learning_rate"),
    ],
)
def test_bad_training_requests_are_422(client: TestClient, body: dict, fragment: str) -> None:
    request = {"symbol": "ABC", "interval": "1h", **SMALL, **body}
    response = client.post("/forecasters/train", json=request)
    assert response.status_code == 422, response.text
    assert fragment in response.text
