"""Health, and what still works when a backend is missing: predictions need none."""

import shutil

from fastapi.testclient import TestClient

import servicekit_testing as testing
from tests.utils import closed_port, unique_symbol


def test_health_sees_every_check(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["service"] == "ml-processing"
    checks = {name: check["status"] for name, check in report["checks"].items()}
    assert checks["database-service"] == "ok" and checks["model-dir"] == "ok"


def test_health_reports_a_missing_promotion(make_client, tmp_path) -> None:
    report = make_client(model_dir=str(tmp_path)).get("/health").json()
    assert report["models"] == {"active_version": None, "active_kind": None, "versions": 0}
    assert report["status"] == "degraded"
    assert report["checks"]["models"]["status"] == "degraded"
    assert "POST /models/train" in report["checks"]["models"]["detail"]


def test_without_database_service_predictions_still_work(
    make_client, registry_copy, trained
) -> None:
    client = make_client(
        model_dir=str(registry_copy()), database_service_url=f"http://127.0.0.1:{closed_port()}"
    )
    version = trained["sklearn"]["version"]
    assert client.post(f"/models/{version}/promote").status_code == 200
    health = client.get("/health")
    assert health.json()["models"]["active_version"] == version
    assert health.json()["models"]["active_kind"] == "sklearn"
    # Degraded, not down: the models are in memory, so it stays in rotation (200).
    assert health.status_code == 200 and health.json()["status"] == "degraded"
    assert health.json()["checks"]["database-service"]["status"] == "down"
    prediction = client.post("/predict", json={"features": [0.001] * 16})
    assert prediction.status_code == 200 and prediction.json()["version"] == version
    body = {"symbol": unique_symbol(), "interval": "1h", "model": "sklearn"}
    training = client.post("/models/train", json=body)
    assert training.status_code == 503 and training.headers["retry-after"] == "1"
    assert training.json()["detail"] == "market data unavailable, try again later"


def test_wrong_internal_token_is_reported(make_client, tmp_path) -> None:
    client = make_client(model_dir=str(tmp_path), internal_token="not-the-token")
    health = client.get("/health").json()
    assert health["checks"]["database-service"]["status"] == "down"
    assert "INTERNAL_TOKEN" in health["checks"]["database-service"]["detail"]
    body = {"symbol": unique_symbol(), "interval": "1h", "model": "sklearn"}
    assert client.post("/models/train", json=body).status_code == 503


def test_a_vanished_model_dir_is_reported(make_client, tmp_path) -> None:
    model_dir = tmp_path / "models"
    client = make_client(model_dir=str(model_dir))
    assert client.get("/health").json()["checks"]["model-dir"]["status"] == "ok"
    shutil.rmtree(model_dir)
    health = testing.fresh_health(client)
    assert health.status_code == 200 and health.json()["status"] == "degraded"
    assert health.json()["checks"]["model-dir"]["status"] == "down"


def test_an_unusable_model_dir_does_not_stop_the_service(make_client, tmp_path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("MODEL_DIR cannot be created below a file")
    client = make_client(model_dir=str(blocker / "models"))
    health = client.get("/health")
    assert health.status_code == 200
    assert health.json()["checks"]["model-dir"]["status"] == "down"
    assert client.get("/models").json()["models"] == []
