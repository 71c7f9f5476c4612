"""Training through the API, the registry's routes, promotion, rollback and restarts."""

import pytest
from fastapi.testclient import TestClient

import servicekit_testing as testing
from app import features, training
from app.learners import KINDS
from tests.utils import frame_candles, real_series, train, unique_symbol, wait_for_job


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_trains_on_real_candles(client: TestClient, trained, eurusd, kind) -> None:
    job = trained[kind]
    assert job["kind"] == kind and job["symbol"] == eurusd and job["candles"] == 5_000
    assert job["started_ms"] >= job["created_ms"] and job["finished_ms"] >= job["started_ms"]
    metrics = job["metrics"]
    for name in ("accuracy", "log_loss", "auc", "baseline_accuracy", "baseline_log_loss"):
        assert 0.0 <= metrics[name] <= 1.0, (name, metrics)
    assert metrics["train_rows"] + metrics["validation_rows"] == 5_000 - features.LOOKBACK - 1

    meta = client.get(f"/models/{job['version']}").json()
    assert meta["kind"] == kind and meta["metrics"] == metrics and meta["active"] is False
    assert meta["feature_schema"] == list(features.FEATURES)
    on = meta["trained_on"]
    assert (on["symbol"], on["interval"], on["count"]) == (eurusd, "1h", 5_000)
    series = real_series("EURUSD")
    assert on["first_start_ms"] == series.index[0].value // 1_000_000
    assert on["last_start_ms"] == series.index[-1].value // 1_000_000


def test_list_models(client: TestClient, trained) -> None:
    listing = client.get("/models").json()
    versions = [model["version"] for model in listing["models"]]
    assert versions == sorted(versions)
    assert {job["version"] for job in trained.values()} <= set(versions)


def test_unknown_version_is_404(client: TestClient) -> None:
    for method, path in (("GET", "/models/999999"), ("POST", "/models/999999/promote")):
        response = client.request(method, path)
        assert response.status_code == 404
        assert "no model version 999999" in response.json()["detail"]


def test_promote_rollback_and_restart(make_client, registry_copy, trained) -> None:
    model_dir = registry_copy()
    client = make_client(model_dir=str(model_dir))
    xgb, cat = trained["xgboost"]["version"], trained["catboost"]["version"]
    assert client.get("/models/active").json() == {"active": None, "kind": None, "history": []}
    refused = client.post("/models/rollback")
    assert refused.status_code == 409 and "no earlier promotion" in refused.json()["detail"]

    assert client.post(f"/models/{xgb}/promote").json()["active"] == xgb
    answer = client.post(f"/models/{cat}/promote").json()
    assert answer == {"active": cat, "kind": "catboost", "history": [xgb]}
    assert client.get(f"/models/{cat}").json()["active"] is True

    # A fresh process on the same directory finds the versions and the active one.
    restarted = make_client(model_dir=str(model_dir))
    assert restarted.get("/models/active").json()["active"] == cat
    assert len(restarted.get("/models").json()["models"]) == len(trained)
    back = restarted.post("/models/rollback").json()
    assert back == {"active": xgb, "kind": "xgboost", "history": []}
    assert make_client(model_dir=str(model_dir)).get("/models/active").json()["active"] == xgb


def test_train_and_promote_in_one_job(make_client, tmp_path, eurusd) -> None:
    client = make_client(model_dir=str(tmp_path))
    job = train(client, eurusd, "sklearn", limit=600, promote=True)
    assert job["promoted"] is True and job["candles"] == 600
    assert client.get("/models/active").json()["active"] == job["version"]
    assert testing.fresh_health(client).json()["checks"]["models"]["status"] == "ok"


def test_too_few_candles_is_409_with_the_numbers(client: TestClient, store_candles) -> None:
    symbol = unique_symbol()
    store_candles(frame_candles(symbol, "1d", real_series("GOOG").iloc[:100]))
    response = client.post(
        "/models/train", json={"symbol": symbol, "interval": "1d", "model": "xgboost"}
    )
    assert response.status_code == 409, response.text
    needed = training.min_candles(0.2)
    assert response.json()["needed"] == needed and response.json()["available"] == 100
    assert f"at least {needed} candles" in response.json()["detail"]


def test_unknown_symbol_is_404(client: TestClient) -> None:
    body = {"symbol": unique_symbol(), "interval": "1h", "model": "sklearn"}
    response = client.post("/models/train", json=body)
    assert response.status_code == 404 and "no 1h candles stored" in response.json()["detail"]


@pytest.mark.parametrize(
    ("body", "location"),
    [
        ({"model": "lightgbm"}, ["body", "model"]),
        ({"params": {"max_dept": 3}}, ["body", "params", "max_dept"]),
        ({"params": {"n_estimators": 0}}, ["body", "params", "n_estimators"]),
        ({"symbol": "eur/usd"}, ["body", "symbol"]),
        ({"interval": "2h"}, ["body", "interval"]),
        ({"validation_fraction": 0.9}, ["body", "validation_fraction"]),
    ],
)
def test_bad_training_requests_are_422(client: TestClient, body, location) -> None:
    request = {"symbol": "ABC", "interval": "1h", "model": "xgboost", **body}
    response = client.post("/models/train", json=request)
    assert response.status_code == 422, response.text
    assert [error["loc"] for error in response.json()["detail"]] == [location]


def test_limit_below_what_training_needs_is_422(client: TestClient) -> None:
    body = {"symbol": "ABC", "interval": "1h", "model": "xgboost", "limit": 50}
    response = client.post("/models/train", json=body)
    assert response.status_code == 422
    assert f"at least {training.min_candles(0.2)} candles" in response.json()["detail"]


def test_unknown_job_is_404(client: TestClient) -> None:
    assert client.get("/jobs/not-a-job").status_code == 404


def test_a_failed_save_fails_the_job(make_client, tmp_path, eurusd) -> None:
    client = make_client(model_dir=str(tmp_path))
    # The versions directory replaced by a file: the rename into it cannot succeed.
    (tmp_path / "versions").rmdir()
    (tmp_path / "versions").write_text("not a directory")
    body = {"symbol": eurusd, "interval": "1h", "model": "sklearn", "limit": 600}
    accepted = client.post("/models/train", json=body)
    assert accepted.status_code == 202
    assert accepted.headers["location"] == f"/jobs/{accepted.json()['id']}"
    job = wait_for_job(client, accepted.json()["id"])
    assert job["state"] == "failed" and job["version"] is None
    assert "NotADirectoryError" in job["error"]


def test_a_full_job_queue_is_429(make_client, tmp_path, eurusd) -> None:
    client = make_client(model_dir=str(tmp_path))
    client.app.state.backends.jobs.max_pending = 0  # as if the queue were full already
    body = {"symbol": eurusd, "interval": "1h", "model": "sklearn", "limit": 600}
    response = client.post("/models/train", json=body)
    assert response.status_code == 429 and response.headers["retry-after"] == "5"
    assert "try again" in response.json()["detail"]
