"""Promotions under load: concurrent clients over real HTTP never see an error, and every
answer is the one its reported version gives (never a mix of two models)."""

import threading

import httpx
import numpy as np
import pytest

import servicekit_testing as testing
from app import features, learners
from app.core.config import Settings
from app.main import build_app
from app.registry import VERSIONS
from tests.utils import frame_to_candles, real_series, serve

CLIENTS = 4
REQUESTS_PER_CLIENT = 150


@pytest.fixture(scope="module")
def rows() -> np.ndarray:
    table = features.build(frame_to_candles("EURUSD", "1h", real_series("EURUSD")))
    return table[-40:]


def test_promotions_under_concurrent_predictions(registry_copy, trained, rows) -> None:
    model_dir = registry_copy()
    versions = {job["version"]: job["kind"] for job in trained.values()}
    expected = {
        v: learners.load(kind, model_dir / VERSIONS / str(v)).reference_predict(rows)
        for v, kind in versions.items()
    }
    app = build_app(Settings(model_dir=str(model_dir)))
    answers: list[tuple[int, int, int, float]] = []  # (status, row, version, probability)
    lock = threading.Lock()

    with serve(app) as url:
        order = list(versions)
        promote = f"{url}/models/{order[0]}/promote"
        httpx.post(promote, headers=testing.internal_headers()).raise_for_status()

        def predict(worker: int) -> None:
            seen = []
            with httpx.Client(base_url=url, headers=testing.internal_headers(), timeout=10) as http:
                for i in range(REQUESTS_PER_CLIENT):
                    row = (i * (worker + 1)) % len(rows)
                    response = http.post("/predict", json={"features": rows[row].tolist()})
                    body = response.json() if response.status_code == 200 else {}
                    seen.append(
                        (response.status_code, row, body.get("version"), body.get("probability"))
                    )
            with lock:
                answers.extend(seen)

        workers = [threading.Thread(target=predict, args=(w,)) for w in range(CLIENTS)]
        for worker in workers:
            worker.start()
        promotions = 0
        with httpx.Client(base_url=url, headers=testing.internal_headers(), timeout=10) as admin:
            while any(worker.is_alive() for worker in workers) and promotions < 300:
                target = order[promotions % len(order)]
                if promotions % 5 == 4:
                    response = admin.post("/models/rollback")
                else:
                    response = admin.post(f"/models/{target}/promote")
                assert response.status_code == 200, response.text
                promotions += 1
        for worker in workers:
            worker.join()

    assert len(answers) == CLIENTS * REQUESTS_PER_CLIENT
    errors = [answer for answer in answers if answer[0] != 200]
    assert errors == []
    assert promotions >= 3
    assert len({version for _, _, version, _ in answers}) >= 2, "no swap happened under load"
    for _, row, version, probability in answers:
        assert probability == pytest.approx(expected[version][row], rel=1e-12, abs=0)
