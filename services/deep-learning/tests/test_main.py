"""Health (with torch's device and threads), and behaviour when database-service is missing."""

import torch
from fastapi.testclient import TestClient

from tests.utils import closed_port, unique_symbol


def test_health_reports_device_and_threads(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["service"] == "deep-learning"
    assert report["runtime"] == {
        "device": "cuda" if torch.cuda.is_available() else "cpu",
        "torch_threads": torch.get_num_threads(),
        "torch": str(torch.__version__),
        "cuda_available": torch.cuda.is_available(),
    }
    checks = report["checks"]
    assert checks["database-service"]["status"] == "ok"
    assert checks["checkpoints"]["status"] == "ok"
    # The embedding model loads in the background: degraded while it does, then ok.
    assert checks["embedding-model"]["status"] in ("ok", "degraded")


def test_threads_come_from_settings(make_client) -> None:
    previous = torch.get_num_threads()
    try:
        client = make_client(threads=3)
        assert client.get("/health").json()["runtime"]["torch_threads"] == 3
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(previous)


def test_live_is_servicekit_s(client: TestClient) -> None:
    assert client.get("/health/live").json() == {"service": "deep-learning", "status": "alive"}


def test_database_service_unreachable(make_client, trained: dict, eurusd: str) -> None:
    client = make_client(database_service_url=f"http://127.0.0.1:{closed_port()}")
    health = client.get("/health")
    assert health.status_code == 503
    assert health.json()["checks"]["database-service"]["status"] == "down"
    stored = {"symbol": eurusd, "interval": "1h"}
    for path, body in [("/forecasters/train", stored), ("/forecast", stored)]:
        response = client.post(path, json=body)
        assert response.status_code == 503, response.text
        assert response.json()["detail"] == "market data unavailable, try again later"
        assert response.headers["retry-after"] == "1"
    # The failed fetch released the trainer: nothing is left running.
    assert client.app.state.backends.trainer.active is None
    # A forecast from explicit closes needs no database-service.
    history = {"history": [1.1 + 0.001 * (i % 7) for i in range(40)], "version": trained["version"]}
    assert client.post("/forecast", json=history).status_code == 200


def test_wrong_internal_token_is_reported(make_client) -> None:
    client = make_client(internal_token="not-the-token")
    health = client.get("/health")
    assert health.status_code == 503
    assert "INTERNAL_TOKEN" in health.json()["checks"]["database-service"]["detail"]
    body = {"symbol": unique_symbol(), "interval": "1h"}
    assert client.post("/forecasters/train", json=body).status_code == 503


def test_unwritable_checkpoint_dir_is_down(make_client, tmp_path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    client = make_client(checkpoint_dir=blocker / "checkpoints")
    health = client.get("/health")
    assert health.status_code == 503
    assert health.json()["checks"]["checkpoints"]["status"] == "down"
