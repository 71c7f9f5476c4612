"""Helpers the tests share: symbols, the real price series, candle payloads, job polling."""

import contextlib
import importlib.util
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import uvicorn

from app.market import Candles

INTERVAL_MS = {"1m": 60_000, "5m": 300_000, "1h": 3_600_000, "1d": 86_400_000}


def unique_symbol() -> str:
    """A symbol no other test (or run) uses: storage is shared and never emptied."""
    return "ML" + uuid.uuid4().hex[:12].upper()


def closed_port() -> int:
    """A local TCP port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def real_series(name: str) -> pd.DataFrame:
    """A price series shipped by the `backtesting` package: EURUSD (hourly) or GOOG (daily)."""
    # find_spec locates the package without importing it (its import needs plotting libraries).
    locations = importlib.util.find_spec("backtesting").submodule_search_locations
    path = Path(locations[0]) / "test" / f"{name}.csv"
    frame = pd.read_csv(path, index_col=0, parse_dates=True)
    frame.index = frame.index.tz_localize("UTC")
    return frame


def frame_candles(symbol: str, interval: str, frame: pd.DataFrame) -> list[dict]:
    """The market API's candle objects for the rows of an OHLCV frame."""
    start_ms = frame.index.as_unit("ms").asi8
    return [
        {
            "symbol": symbol,
            "interval": interval,
            "start_ms": int(ms),
            "open": float(row.Open),
            "high": float(row.High),
            "low": float(row.Low),
            "close": float(row.Close),
            "volume": float(row.Volume),
            "ticks": 1,
        }
        for ms, row in zip(start_ms, frame.itertuples(), strict=True)
    ]


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


@contextlib.contextmanager
def serve(app) -> Iterator[str]:
    """Run `app` under uvicorn on 127.0.0.1 (a free port) in a thread; its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
