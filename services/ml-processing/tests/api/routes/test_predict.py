"""Predictions: equal to each model's own predict, the cache, and every refusal."""

import math

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app import features, learners
from app.registry import VERSIONS
from tests.utils import frame_to_candles, real_series

NAMES = list(features.FEATURES)


@pytest.fixture(scope="module")
def rows() -> np.ndarray:
    """30 real feature rows (the last EURUSD bars)."""
    table = features.build(frame_to_candles("EURUSD", "1h", real_series("EURUSD")))
    return table[-30:]


@pytest.fixture
def promoted(make_client, registry_copy, trained) -> TestClient:
    """An app of its own with the trained versions and the xgboost one promoted."""
    client = make_client(model_dir=str(registry_copy()))
    assert client.post(f"/models/{trained['xgboost']['version']}/promote").status_code == 200
    return client


def own_predict(model_dir, kind: str, version: int, x: np.ndarray) -> np.ndarray:
    """The library's ordinary predict of the version as saved on disk."""
    return learners.load(kind, model_dir / VERSIONS / str(version)).reference_predict(x)


@pytest.mark.parametrize("kind", learners.KINDS)
def test_single_and_batch_equal_the_models_own_predict(
    client: TestClient, trained, model_dir, rows: np.ndarray, kind: str
) -> None:
    version = trained[kind]["version"]
    expected = own_predict(model_dir, kind, version, rows)
    batch = client.post("/predict/batch", json={"rows": rows.tolist(), "version": version})
    assert batch.status_code == 200, batch.text
    answer = batch.json()
    assert answer["version"] == version and answer["kind"] == kind
    np.testing.assert_allclose(answer["probabilities"], expected, rtol=1e-12, atol=0)
    assert answer["classes"] == [int(p >= 0.5) for p in answer["probabilities"]]
    for i in (0, 7, 29):
        by_name = dict(zip(NAMES, rows[i].tolist(), strict=True))
        single = client.post("/predict", json={"features": by_name, "version": version}).json()
        assert single["probability"] == pytest.approx(expected[i], rel=1e-12, abs=0)
        assert single["class"] == int(expected[i] >= 0.5) and single["version"] == version
        as_list = client.post("/predict", json={"features": rows[i].tolist(), "version": version})
        assert as_list.json()["probability"] == single["probability"]


def test_active_model_answers_by_default(promoted: TestClient, trained, rows) -> None:
    answer = promoted.post("/predict", json={"features": rows[0].tolist()}).json()
    assert answer["version"] == trained["xgboost"]["version"] and answer["kind"] == "xgboost"
    batch = promoted.post("/predict/batch", json={"rows": rows[:3].tolist()}).json()
    assert batch["version"] == trained["xgboost"]["version"]


def test_cache_counts_hits_and_misses(promoted: TestClient, trained, rows) -> None:
    before = promoted.get("/stats").json()["cache"]
    assert before["capacity"] == 10_000
    first = promoted.post("/predict", json={"features": rows[0].tolist()}).json()
    again = promoted.post("/predict", json={"features": rows[0].tolist()}).json()
    assert (first["cached"], again["cached"]) == (False, True)
    assert again["probability"] == first["probability"]
    # A batch: row 0 is cached, rows 1-4 are not (and are afterwards).
    batch = promoted.post("/predict/batch", json={"rows": rows[:5].tolist()}).json()
    assert batch["cached"] == 1
    assert promoted.post("/predict/batch", json={"rows": rows[:5].tolist()}).json()["cached"] == 5
    # Another version: the same features miss.
    other = {"features": rows[0].tolist(), "version": trained["sklearn"]["version"]}
    assert promoted.post("/predict", json=other).json()["cached"] is False
    after = promoted.get("/stats").json()
    assert after["cache"]["hits"] - before["hits"] == 1 + 1 + 5
    assert after["cache"]["misses"] - before["misses"] == 1 + 4 + 1
    assert after["cache"]["size"] == before["size"] + 6
    assert after["cache"]["hit_rate"] == pytest.approx(
        after["cache"]["hits"] / (after["cache"]["hits"] + after["cache"]["misses"])
    )
    assert after["active_version"] == trained["xgboost"]["version"]


def test_a_disabled_cache_always_computes(make_client, registry_copy, trained, rows) -> None:
    client = make_client(model_dir=str(registry_copy()), prediction_cache_size=0)
    body = {"features": rows[0].tolist(), "version": trained["sklearn"]["version"]}
    assert [client.post("/predict", json=body).json()["cached"] for _ in range(2)] == [False] * 2
    assert client.get("/stats").json()["cache"]["size"] == 0


def test_no_promoted_model_is_409_saying_how_to_fix(make_client, registry_copy, rows) -> None:
    client = make_client(model_dir=str(registry_copy()))
    for path, body in (
        ("/predict", {"features": rows[0].tolist()}),
        ("/predict/batch", {"rows": rows[:2].tolist()}),
    ):
        response = client.post(path, json=body)
        assert response.status_code == 409
        assert "POST /models/train" in response.json()["detail"]
        assert "/promote" in response.json()["detail"]


def test_unknown_version_is_404(promoted: TestClient, rows) -> None:
    response = promoted.post("/predict", json={"features": rows[0].tolist(), "version": 4242})
    assert response.status_code == 404 and "4242" in response.json()["detail"]


def test_missing_and_unexpected_names_are_named(promoted: TestClient, rows) -> None:
    by_name = dict(zip(NAMES, rows[0].tolist(), strict=True))
    del by_name["rsi_14"], by_name["ret_5"]
    by_name["rsi"] = 0.5
    response = promoted.post("/predict", json={"features": by_name})
    assert response.status_code == 422
    answer = response.json()
    assert answer["missing"] == ["ret_5", "rsi_14"] and answer["unexpected"] == ["rsi"]
    assert answer["expected"] == NAMES
    assert "missing ['ret_5', 'rsi_14'], unexpected ['rsi']" in answer["detail"]


def test_wrong_count_is_422(promoted: TestClient, rows) -> None:
    response = promoted.post("/predict", json={"features": rows[0].tolist()[:-1]})
    assert response.status_code == 422
    assert f"takes {len(NAMES)} feature values" in response.json()["detail"]
    assert f"got {len(NAMES) - 1}" in response.json()["detail"]


def test_nan_and_infinity_are_422_naming_the_feature(promoted: TestClient, rows) -> None:
    for bad in ("NaN", "Infinity", "-Infinity", "1e999"):
        values = [repr(v) for v in rows[0].tolist()]
        values[3] = bad  # ret_5
        content = '{"features": [' + ", ".join(values) + "]}"
        response = promoted.post(
            "/predict", content=content, headers={"content-type": "application/json"}
        )
        assert response.status_code == 422, (bad, response.text)
        assert response.json()["not_finite"] == ["ret_5"], bad


def test_batch_errors_name_the_row(promoted: TestClient, rows) -> None:
    batch = rows[:4].tolist()
    batch[2] = batch[2][:5]
    response = promoted.post("/predict/batch", json={"rows": batch})
    assert response.status_code == 422 and response.json()["row"] == 2
    assert response.json()["detail"].startswith("row 2: ")


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"features": "ret_1=0.1"},
        {"features": [None] * len(NAMES)},
        {"features": [0.0] * len(NAMES), "version": 0},
    ],
)
def test_malformed_requests_are_422(promoted: TestClient, body) -> None:
    assert promoted.post("/predict", json=body).status_code == 422


def test_empty_and_oversized_batches_are_refused(make_client, registry_copy, trained) -> None:
    client = make_client(model_dir=str(registry_copy()), max_batch_rows=3)
    version = trained["sklearn"]["version"]
    assert client.post("/predict/batch", json={"rows": [], "version": version}).status_code == 422
    rows = [[0.0] * len(NAMES)] * 4
    response = client.post("/predict/batch", json={"rows": rows, "version": version})
    assert response.status_code == 422 and "at most 3" in response.json()["detail"]


def test_large_batches_run_in_the_pool_with_the_same_answers(
    make_client, registry_copy, trained, rows
) -> None:
    client = make_client(model_dir=str(registry_copy()), inline_batch_rows=4)
    version = trained["catboost"]["version"]
    pooled = client.post("/predict/batch", json={"rows": rows.tolist(), "version": version})
    inline = client.post("/predict/batch", json={"rows": rows[:4].tolist(), "version": version})
    assert pooled.json()["probabilities"][:4] == inline.json()["probabilities"]
    assert all(math.isfinite(p) for p in pooled.json()["probabilities"])


def test_malformed_json_is_400(promoted: TestClient) -> None:
    response = promoted.post(
        "/predict", content=b'{"features": [1,', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["detail"] == "request body is not valid JSON"


def test_validation_errors_locate_the_field(promoted: TestClient) -> None:
    response = promoted.post("/predict/batch", json={"rows": [[0.0] * 16], "version": "x"})
    assert response.status_code == 422
    assert [error["loc"] for error in response.json()["detail"]] == [["body", "version"]]
