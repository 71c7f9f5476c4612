"""Helpers the tests share: symbols, the real EURUSD series, candle payloads, job polling."""

import functools
import time

import numpy as np
from fastapi.testclient import TestClient

import servicekit_testing as testing

# A forecaster small enough to train in well under a second on a busy CPU.
SMALL = {"window": 16, "horizon": 3, "hidden": 8, "epochs": 2, "batch_size": 128}


unique_symbol = functools.partial(testing.unique_symbol, "DL")
closed_port = testing.closed_port


def eurusd_closes() -> np.ndarray:
    return np.array([float(row["Close"]) for row in testing.series_rows("EURUSD")])


def eurusd_candles(symbol: str, count: int | None = None) -> list[dict]:
    """The market API's candle objects for the first `count` EURUSD bars (all by default)."""
    return testing.series_candles(symbol, "EURUSD", "1h", count)


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
