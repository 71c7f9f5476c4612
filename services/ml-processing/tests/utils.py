"""Helpers the tests share: symbols, the real price series, candle payloads, job polling."""

import functools
import time

import numpy as np
import pandas as pd

import servicekit_testing as testing
from servicekit.market import Candles

INTERVAL_MS = testing.INTERVAL_MS


unique_symbol = functools.partial(testing.unique_symbol, "ML")
closed_port = testing.closed_port
frame_candles = testing.frame_candles
serve = testing.serve


def real_series(name: str) -> pd.DataFrame:
    """A price series shipped by the `backtesting` package: EURUSD (hourly) or GOOG (daily)."""
    frame = pd.read_csv(testing.series_path(name), index_col=0, parse_dates=True)
    frame.index = frame.index.tz_localize("UTC")
    return frame


def frame_to_candles(symbol: str, interval: str, frame: pd.DataFrame) -> Candles:
    """The in-memory Candles of an OHLCV frame (what the service builds from the API)."""
    return Candles(
        symbol=symbol,
        interval=interval,
        start_ms=frame.index.as_unit("ms").asi8.astype(np.int64),
        open=frame.Open.to_numpy(np.float64),
        high=frame.High.to_numpy(np.float64),
        low=frame.Low.to_numpy(np.float64),
        close=frame.Close.to_numpy(np.float64),
        volume=frame.Volume.to_numpy(np.float64),
        ticks=np.ones(len(frame), dtype=np.int64),
    )


def wait_for_job(client, job_id: str, timeout: float = 60.0) -> dict:
    """Poll GET /jobs/{id} until the job has finished; its last state."""
    deadline = time.monotonic() + timeout
    while True:
        response = client.get(f"/jobs/{job_id}")
        assert response.status_code == 200, response.text
        job = response.json()
        if job["state"] in ("succeeded", "failed"):
            return job
        assert time.monotonic() < deadline, f"job {job_id} still {job['state']}"
        time.sleep(0.05)


def train(client, symbol: str, model: str, **fields) -> dict:
    """Train through the API and wait; the finished job (asserted to have succeeded)."""
    body = {"symbol": symbol, "interval": fields.pop("interval", "1h"), "model": model, **fields}
    response = client.post("/models/train", json=body)
    assert response.status_code == 202, response.text
    job = wait_for_job(client, response.json()["id"])
    assert job["state"] == "succeeded", job
    return job
