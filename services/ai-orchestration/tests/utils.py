"""Helpers the tests share: symbols, the real EURUSD series, local servers, job polling."""

import asyncio
import csv
import importlib.util
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

import httpx
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

HOUR_MS = 3_600_000


def unique_symbol() -> str:
    """A symbol no other test (or run) uses: storage is shared and never emptied."""
    return "AO" + uuid.uuid4().hex[:12].upper()


def closed_port() -> int:
    """A local TCP port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def closed_url() -> str:
    return f"http://127.0.0.1:{closed_port()}"


@lru_cache
def eurusd_rows() -> tuple[dict, ...]:
    """The 5,000 real EURUSD hourly bars shipped by the `backtesting` package."""
    locations = importlib.util.find_spec("backtesting").submodule_search_locations
    path = Path(locations[0]) / "test" / "EURUSD.csv"
    with path.open(newline="") as handle:
        return tuple(csv.DictReader(handle))


def eurusd_candles(symbol: str, count: int | None = None) -> list[dict]:
    """The market API's candle objects for the first `count` EURUSD bars (all by default)."""
    candles = []
    for row in eurusd_rows()[:count]:
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


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """Serve an ASGI app with uvicorn in a thread on a free 127.0.0.1 port; its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=2)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive(), "the local server failed to start"
        assert time.monotonic() < deadline, "the local server did not start within 30 s"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def stand_in(routes: dict[tuple[str, str], tuple[int, dict, float]]) -> FastAPI:
    """A service stand-in for failure modes the real one cannot be made to show on demand:
    each (method, path) answers (status, body) after sleeping `delay` seconds. It records the
    calls it got in `app.state.calls`, and when each arrived and was answered (monotonic
    seconds) in `app.state.spans`."""
    app = FastAPI()
    app.state.calls = []
    app.state.spans = []

    @app.api_route("/{path:path}", methods=["GET", "POST"])
    async def answer(path: str, request: Request) -> JSONResponse:
        key = (request.method, "/" + path)
        app.state.calls.append(key)
        if key not in routes:
            return JSONResponse({"detail": f"stand-in has no {key}"}, status_code=404)
        status, body, delay = routes[key]
        arrived = time.monotonic()
        await asyncio.sleep(delay)
        app.state.spans.append((key, arrived, time.monotonic()))
        return JSONResponse(body, status_code=status)

    return app


def reachable(url: str) -> bool:
    """Whether a service answers GET /health at `url` (any status: it is running)."""
    try:
        httpx.get(f"{url}/health", timeout=3)
    except httpx.HTTPError:
        return False
    return True


def poll(client: httpx.Client, path: str, done, timeout: float = 120.0) -> dict:
    """GET `path` until `done(body)`; the last body."""
    deadline = time.monotonic() + timeout
    while True:
        response = client.get(path)
        assert response.status_code == 200, response.text
        body = response.json()
        if done(body):
            return body
        assert time.monotonic() < deadline, f"{path} not done after {timeout}s: {body}"
        time.sleep(0.1)
