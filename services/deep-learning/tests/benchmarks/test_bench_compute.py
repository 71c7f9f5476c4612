"""deep-learning's CPU work, in process: a forecast (the model alone and through the app),
embedding 1 and 32 sentences with the real model, and training a small forecaster.

The closes are the real EURUSD hourly series (5,000 bars) from the `backtesting` package.
"""

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient

from app.embeddings import Embedder
from app.forecasting import model as model_lib
from app.forecasting.model import ForecasterConfig
from app.forecasting.predict import forecast
from app.forecasting.training import TrainedForecaster, train
from tests.utils import eurusd_closes

CPU = torch.device("cpu")
# The service's default shape (window 32, horizon 5, hidden 32) with few epochs.
BENCH_CONFIG = ForecasterConfig(epochs=2)
SENTENCES = [
    f"Headline {i}: the euro moved against the dollar after the central bank spoke."
    for i in range(32)
]


@pytest.fixture(scope="module")
def closes() -> np.ndarray:
    return eurusd_closes()


@pytest.fixture(scope="module")
def forecaster(closes: np.ndarray) -> TrainedForecaster:
    return train(closes[-1_000:], BENCH_CONFIG, CPU)


def test_forecast_model_only(benchmark, forecaster: TrainedForecaster, closes) -> None:
    net = model_lib.build(forecaster.config, CPU)
    net.load_state_dict(forecaster.state_dict)
    f = forecaster
    args = (net, f.config, f.scale, f.residual_rms, closes, 5, CPU)
    steps = benchmark(forecast, *args)
    assert len(steps) == 5


def test_forecast_endpoint_history(benchmark, client: TestClient, trained: dict) -> None:
    """POST /forecast with 100 explicit closes: validation, pool hop, model, JSON."""
    body = {"history": [float(c) for c in eurusd_closes()[-100:]], "version": trained["version"]}
    response = benchmark(client.post, "/forecast", json=body)
    assert response.status_code == 200, response.text


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    embedder = Embedder(CPU, batch_size=32)
    embedder._load()  # in this thread: the benchmark measures encoding, not loading
    return embedder


@pytest.mark.parametrize("count", [1, 32])
def test_embed_sentences(benchmark, embedder: Embedder, count: int) -> None:
    vectors = benchmark(embedder.encode, SENTENCES[:count])
    assert vectors.shape == (count, 384)


def test_train_small_forecaster_1000_candles(benchmark, closes: np.ndarray) -> None:
    """Two epochs of the default shape on 1,000 real candles (about 770 training samples)."""
    config = ForecasterConfig(epochs=2)
    result = benchmark.pedantic(train, args=(closes[-1_000:], config, CPU), rounds=3, iterations=1)
    assert np.isfinite(result.metrics["val_loss"])
