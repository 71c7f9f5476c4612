"""What the services' test suites share: fresh symbols, local ports and servers, and the real
price series the `backtesting` package ships (a dev dependency of the suites that use them).

Only tests import this module; nothing here runs in a production container.
"""

from __future__ import annotations

import contextlib
import csv
import importlib.util
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

import httpx
import uvicorn

INTERVAL_MS = {"1m": 60_000, "5m": 300_000, "1h": 3_600_000, "1d": 86_400_000}
# Candles per request when seeding: ~300 kB, well under database-service's 8 MiB body limit.
SEED_CHUNK = 2_000


def internal_token() -> str:
    """The credential the suites present (TESTS_INTERNAL_TOKEN: the operator's, which every
    service accepts on every route; compose.test.yaml sets it from the env file)."""
    token = os.environ.get("TESTS_INTERNAL_TOKEN", "")
    if not token:
        raise RuntimeError(
            "TESTS_INTERNAL_TOKEN is not set: run the suites in their test containers "
            "(`nox -s tests`), which get it from the env file"
        )
    return token


def internal_headers() -> dict[str, str]:
    """Headers that get a suite's requests past servicekit.internal."""
    return {"X-Internal-Token": internal_token()}


def fresh_health(client) -> httpx.Response:
    """GET /health after a round of checks begun now, for a `fastapi.testclient.TestClient`
    entered as a context (its lifespan runs the checker): a test that changes a backend under
    the app sees the change at once, where the background checker would see it within an
    interval (servicekit.health)."""
    client.portal.call(client.app.state.health.check_now)
    return client.get("/health")


def unique_symbol(prefix: str) -> str:
    """A symbol no other test (or run) uses: storage is shared and never emptied."""
    return prefix + uuid.uuid4().hex[:12].upper()


def closed_port() -> int:
    """A local TCP port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def closed_url() -> str:
    return f"http://127.0.0.1:{closed_port()}"


@contextlib.contextmanager
def serve(app, start_within: float = 30.0) -> Iterator[str]:
    """Serve an ASGI app with uvicorn in a thread on a free 127.0.0.1 port; its base URL.

    The socket is bound here and handed to uvicorn, so no other process can take the port
    between choosing and listening."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            app, log_level="warning", access_log=False, lifespan="on", timeout_graceful_shutdown=2
        )
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + start_within
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the local server did not start within {start_within:g} s")
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def series_path(name: str) -> Path:
    """A series `backtesting` ships (EURUSD hourly, GOOG daily, BTCUSD): its CSV file, found
    without importing the package (its import needs plotting libraries)."""
    spec = importlib.util.find_spec("backtesting")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the `backtesting` package is not installed: it is a dev dependency")
    return Path(spec.submodule_search_locations[0]) / "test" / f"{name}.csv"


@lru_cache
def series_rows(name: str = "EURUSD") -> tuple[dict, ...]:
    """The series' rows as the CSV has them (the time in the unnamed first column)."""
    with series_path(name).open(newline="") as handle:
        return tuple(csv.DictReader(handle))


def series_candles(
    symbol: str, name: str = "EURUSD", interval: str = "1h", count: int | None = None
) -> list[dict]:
    """database-service's candle objects for the first `count` bars of a series (all by
    default), stored under `symbol`."""
    candles = []
    for row in series_rows(name)[:count]:
        start = datetime.fromisoformat(row[""]).replace(tzinfo=UTC)
        candles.append(
            {
                "symbol": symbol,
                "interval": interval,
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


def frame_candles(symbol: str, interval: str, frame) -> list[dict]:
    """database-service's candle objects for the rows of an OHLCV pandas frame indexed by
    time (for the suites that read a series with pandas)."""
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


@contextlib.contextmanager
def started_apps(
    build: Callable[..., object], headers: Callable[[], dict[str, str]] = internal_headers
) -> Iterator[Callable[..., object]]:
    """`make(**overrides)`: a TestClient on `build(**overrides)` with its lifespan started and
    `headers()` on every request (the suites' internal credential by default); every app made
    is stopped when the block ends. A suite's `make_client` fixture is this around its
    `build_app(Settings(...))`."""
    from fastapi.testclient import TestClient

    with contextlib.ExitStack() as stack:

        def make(**overrides) -> TestClient:
            return stack.enter_context(TestClient(build(**overrides), headers=headers()))

        yield make


@contextlib.contextmanager
def database_client(url: str, token: str | None = None) -> Iterator[httpx.Client]:
    """database-service itself (its internal API), where the suites store their candles; as
    the operator unless another caller's `token` is given."""
    with httpx.Client(
        base_url=url, headers={"X-Internal-Token": token or internal_token()}, timeout=30
    ) as client:
        yield client


def store_candles(database: httpx.Client, candles: list[dict], chunk: int = SEED_CHUNK) -> None:
    """POST candles to database-service's market API, `chunk` at a time."""
    for i in range(0, len(candles), chunk):
        response = database.post("/market/candles", json={"candles": candles[i : i + chunk]})
        assert response.status_code == 200, response.text
