"""Helpers the tests share: symbols, the real EURUSD series, candle payloads, job polling."""

import csv
import importlib.util
import socket
import time
import uuid
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient

# A forecaster small enough to train in well under a second on a busy CPU.
SMALL = {"window": 16, "horizon": 3, "hidden": 8, "epochs": 2, "batch_size": 128}


def unique_symbol() -> str:
    """A symbol no other test (or run) uses: storage is shared and never emptied."""
    return "DL" + uuid.uuid4().hex[:12].upper()


def closed_port() -> int:
    """A local TCP port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@lru_cache
def eurusd_rows() -> tuple[dict, ...]:
    """The 5,000 real EURUSD hourly bars shipped by the `backtesting` package."""
    locations = importlib.util.find_spec("backtesting").submodule_search_locations
    path = Path(locations[0]) / "test" / "EURUSD.csv"
    with path.open(newline="") as handle:
        return tuple(csv.DictReader(handle))


def eurusd_closes() -> np.ndarray:
    return np.array([float(row["Close"]) for row in eurusd_rows()])


def eurusd_candles(symbol: str, count: int | None = None) -> list[dict]:
    """The market API's candle objects for the first `count` EURUSD bars (all by default)."""
    rows = eurusd_rows()[:count]
    candles = []
    for row in rows:
        start = datetime.fromisoformat(row[""]).replace(tzinfo=UTC)
        candles.append(
            {
                "symbol": symbol,
                "interval": "1h",
                "start_ms": int(start.timestamp() * 1000),
                "open": float(row["Open"]),
                "high": float(row["High"]),
                "low": float(row["Low"]),
                "close": float(row["Close"]),
                "volume": float(row["Volume"]),
                "ticks": 1,
            }
        )
    return candles


def wait_for_job(client: TestClient, job_id: str, timeout: float = 120.0) -> dict:
    """Poll GET /forecasters/jobs/{id} until the job has finished; its final state."""
    deadline = time.monotonic() + timeout
    while True:
        response = client.get(f"/forecasters/jobs/{job_id}")
        assert response.status_code == 200, response.text
        job = response.json()
        if job["state"] not in ("fetching", "running"):
            return job
        assert time.monotonic() < deadline, f"job {job_id} still {job['state']} after {timeout}s"
        time.sleep(0.05)
