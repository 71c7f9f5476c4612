"""The market API's hot paths, in process: validating a tick batch, storing 2,000-tick batches
through the real app into ClickHouse, recognizing a resent batch, and reading candles.

The requests go through TestClient (token check, JSON parsing, validation, the advisory lock in
PostgreSQL, the ClickHouse queries, serialization), so they include the test client's overhead.
Every round stores a batch of its own, under a symbol of its own, so nothing accumulates twice.
"""

import pytest

import servicekit_testing as testing
from app.market.models import TickBatch
from tests.utils import EPOCH_MS, new_batch, new_symbol

BATCH_TICKS = 2_000  # data-bridge's BATCH_MAX_TICKS
CANDLES = 10_000  # the default limit of GET /market/candles


@pytest.fixture(scope="module")
def auth(settings) -> dict[str, str]:
    # Module-scoped twin of the suite's `auth` fixture, for the module-scoped fixtures below.
    return testing.internal_headers()


@pytest.fixture(scope="module")
def symbol() -> str:
    return new_symbol()


def test_validate_a_2000_tick_batch(benchmark, symbol: str) -> None:
    body = new_batch(symbol, n=BATCH_TICKS)
    batch = benchmark(TickBatch.model_validate, body)
    assert len(batch.ticks) == BATCH_TICKS


def test_store_a_2000_tick_batch(benchmark, client, auth: dict[str, str], symbol: str) -> None:
    starts = iter(range(EPOCH_MS, EPOCH_MS + 10**12, BATCH_TICKS))

    def fresh() -> tuple[tuple, dict]:
        return (), {"json": new_batch(symbol, n=BATCH_TICKS, start_ms=next(starts))}

    def post(json: dict):
        return client.post("/market/ticks", json=json, headers=auth)

    response = benchmark.pedantic(post, setup=fresh, rounds=15, warmup_rounds=1)
    assert response.status_code == 200, response.text
    assert response.json()["inserted"] == BATCH_TICKS


def test_recognize_a_resent_batch(benchmark, client, auth: dict[str, str]) -> None:
    body = new_batch(new_symbol(), n=BATCH_TICKS)
    assert client.post("/market/ticks", json=body, headers=auth).json()["inserted"] == BATCH_TICKS
    response = benchmark(client.post, "/market/ticks", json=body, headers=auth)
    assert response.json()["duplicate"] is True


@pytest.fixture(scope="module")
def candle_symbol(client, auth: dict[str, str]) -> str:
    symbol = new_symbol()
    candles = [
        {
            "symbol": symbol,
            "interval": "1m",
            "start_ms": EPOCH_MS + i * 60_000,
            "open": 10.0,
            "high": 11.0,
            "low": 9.0,
            "close": 10.5,
            "volume": 100.0,
            "ticks": 42,
        }
        for i in range(CANDLES)
    ]
    response = client.post("/market/candles", json={"candles": candles}, headers=auth)
    assert response.status_code == 200, response.text
    return symbol


def test_read_10000_candles(benchmark, client, auth: dict[str, str], candle_symbol: str) -> None:
    params = {"symbol": candle_symbol, "interval": "1m"}
    response = benchmark(client.get, "/market/candles", params=params, headers=auth)
    assert response.status_code == 200, response.text
    assert len(response.json()["candles"]) == CANDLES
