"""ml-processing's hot paths and training, in process, on the real EURUSD hourly candles.

- one row through each kind's serving path (the seed promises well under a millisecond), and
  through the whole request path (schema check, cache miss, model);
- a batch of 1,000 rows per kind;
- POST /predict over HTTP to uvicorn on 127.0.0.1 (p50/p90/p99 in extra_info; the seed
  promises a p50 under 2 ms). The server runs in a thread of this process, so the client's
  work shares its GIL: the figures are an upper bound of what a separate client would see;
- training time per kind with the default parameters on the 5,000 candles;
- the prediction cache's hit rate on a replayed, Zipf-like mix of requests.
"""

import http.client
import json
import time

import numpy as np
import pytest

import servicekit_testing as testing
from app import features, learners, training
from app.cache import PredictionCache
from app.core.config import Settings
from app.main import build_app
from app.predictor import predict_one
from app.registry import LoadedModel, Registry
from servicekit_testing.benchmarks import measuring
from tests.utils import frame_to_candles, real_series, serve

THREADS = Settings().threads


@pytest.fixture(scope="module")
def data() -> training.Dataset:
    """The 5,000 EURUSD candles' labelled rows, split as a training job splits them."""
    return training.prepare(frame_to_candles("EURUSD", "1h", real_series("EURUSD")), 0.2)


@pytest.fixture(scope="module")
def models(data: training.Dataset) -> dict[str, training.TrainedModel]:
    """One model per kind with the default parameters (what a job trains when given none)."""
    return {
        kind: training.fit_and_score(data, kind, learners.PARAMS[kind](), THREADS)
        for kind in learners.KINDS
    }


@pytest.fixture(scope="module")
def rows(data: training.Dataset) -> np.ndarray:
    """Every labelled row, oldest first (4,979 real feature rows)."""
    return np.vstack([data.x_train, data.x_valid])


def loaded(version: int, kind: str, learner: learners.Learner) -> LoadedModel:
    meta = {"version": version, "kind": kind, "feature_schema": list(features.FEATURES)}
    return LoadedModel.of(meta, learner)


@pytest.mark.parametrize("kind", learners.KINDS)
def test_predict_one_row(benchmark, models, data: training.Dataset, kind: str) -> None:
    """The model alone: one (1, 16) numpy row through the kind's fast path."""
    learner = models[kind].learner
    row = np.ascontiguousarray(data.x_valid[-1:])
    p = benchmark(learner.predict, row)
    assert p[0] == pytest.approx(learner.reference_predict(row)[0], rel=1e-12)


@pytest.mark.parametrize("kind", learners.KINDS)
def test_predict_one_request_path(benchmark, models, data: training.Dataset, kind: str) -> None:
    """What POST /predict does in process: names checked and ordered, a cache miss, the model."""
    model = loaded(1, kind, models[kind].learner)
    by_name = dict(zip(features.FEATURES, data.x_valid[-1].tolist(), strict=True))
    probability, cached = benchmark(predict_one, model, by_name, PredictionCache(0))
    assert cached is False and 0 < probability < 1


@pytest.mark.parametrize("kind", learners.KINDS)
def test_predict_batch_1000(benchmark, models, rows: np.ndarray, kind: str) -> None:
    x = np.ascontiguousarray(rows[-1000:])
    p = benchmark(models[kind].learner.predict, x)
    assert p.shape == (1000,)


@pytest.mark.parametrize("kind", learners.KINDS)
def test_train_5000_candles(benchmark, data: training.Dataset, kind: str) -> None:
    """fit_and_score with the default parameters: what a training job spends in the pool."""
    params = learners.PARAMS[kind]()
    trained = benchmark.pedantic(
        training.fit_and_score, args=(data, kind, params, THREADS), rounds=1, iterations=1
    )
    benchmark.extra_info.update(
        threads=THREADS,
        train_rows=trained.metrics["train_rows"],
        params=params.model_dump(),
        accuracy=round(trained.metrics["accuracy"], 4),
        baseline_accuracy=round(trained.metrics["baseline_accuracy"], 4),
        auc=round(trained.metrics["auc"], 4),
    )
    assert 0 <= trained.metrics["accuracy"] <= 1


@pytest.fixture(scope="module")
def server(models, tmp_path_factory, request) -> str:
    """uvicorn on 127.0.0.1 serving the three models (versions 1-3); the cache off, so
    every request runs its model."""
    model_dir = tmp_path_factory.mktemp("bench-models")
    registry = Registry(str(model_dir), loaded_versions=4)
    registry.open()
    for kind in learners.KINDS:
        registry.save(models[kind], kind, features.FEATURES)
    registry.promote(1)
    app = build_app(Settings(model_dir=str(model_dir), prediction_cache_size=0))
    with serve(app) as url:
        yield url


@pytest.mark.parametrize("kind", learners.KINDS)
def test_http_predict_latency(benchmark, server: str, rows: np.ndarray, kind: str, request) -> None:
    """POST /predict over a kept-alive connection, one distinct real row per request."""
    version = learners.KINDS.index(kind) + 1
    count = 2_000 if measuring(request.config) else 50
    bodies = [
        json.dumps({"features": row, "version": version}).encode() for row in rows[-count:].tolist()
    ]
    host, port = server.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    headers = {"content-type": "application/json", **testing.internal_headers()}

    def run() -> list[float]:
        timings = []
        for body in bodies:
            started = time.perf_counter()
            connection.request("POST", "/predict", body=body, headers=headers)
            response = connection.getresponse()
            payload = response.read()
            timings.append(time.perf_counter() - started)
            assert response.status == 200, payload
        return timings

    run()  # warm-up: the connection, the first predictions
    timings = np.array(benchmark.pedantic(run, rounds=1, iterations=1)) * 1000
    connection.close()
    benchmark.extra_info.update(
        requests=count,
        p50_ms=round(float(np.percentile(timings, 50)), 3),
        p90_ms=round(float(np.percentile(timings, 90)), 3),
        p99_ms=round(float(np.percentile(timings, 99)), 3),
        max_ms=round(float(timings.max()), 3),
    )


def zipf_mix(distinct: int, requests: int, exponent: float = 1.1) -> np.ndarray:
    """`requests` row indices among `distinct`, row i drawn with weight 1 / (i + 1)^exponent."""
    weights = 1.0 / np.arange(1, distinct + 1) ** exponent
    return np.random.default_rng(0).choice(distinct, size=requests, p=weights / weights.sum())


@pytest.mark.parametrize("capacity", [10_000, 50])
def test_cache_hit_rate_on_zipf_mix(benchmark, models, rows: np.ndarray, capacity: int) -> None:
    """1,000 requests over 200 distinct real rows, replayed through the request path."""
    model = loaded(1, "xgboost", models["xgboost"].learner)
    requests = [dict(zip(features.FEATURES, r, strict=True)) for r in rows[-200:].tolist()]
    mix = zipf_mix(len(requests), 1_000)

    def replay() -> PredictionCache:
        cache = PredictionCache(capacity)
        for i in mix:
            predict_one(model, requests[i], cache)
        return cache

    stats = benchmark.pedantic(replay, rounds=1, iterations=1).stats()
    benchmark.extra_info.update(
        requests=len(mix),
        distinct_rows=len(requests),
        distinct_requested=len(set(mix)),
        **stats,
    )
    assert stats["hits"] + stats["misses"] == len(mix)
    if capacity >= len(requests):
        # Unbounded for this mix: every row misses exactly once, on its first request.
        assert stats["misses"] == len(set(mix))
