"""Helpers the tests share: symbols, the real EURUSD series, local servers, job polling."""

import asyncio
import functools
import time

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

import servicekit_testing as testing

unique_symbol = functools.partial(testing.unique_symbol, "AO")
closed_url = testing.closed_url
serve = testing.serve
HOUR_MS = testing.INTERVAL_MS["1h"]


def eurusd_candles(symbol: str, count: int | None = None) -> list[dict]:
    """The market API's candle objects for the first `count` EURUSD bars (all by default)."""
    return testing.series_candles(symbol, "EURUSD", "1h", count)


def stand_in(routes: dict[tuple[str, str], tuple[int, dict, float]]) -> FastAPI:
    """A service stand-in for failure modes the real one cannot be made to show on demand:
    each (method, path) answers (status, body) after sleeping `delay` seconds. It records the
    calls it got in `app.state.calls`, and when each arrived and was answered (monotonic
    seconds) in `app.state.spans`. GET /health, which the app's background health checker
    asks of every peer, answers ok and is not recorded."""
    app = FastAPI()
    app.state.calls = []
    app.state.spans = []

    @app.api_route("/{path:path}", methods=["GET", "POST"])
    async def answer(path: str, request: Request) -> JSONResponse:
        key = (request.method, "/" + path)
        if key == ("GET", "/health") and key not in routes:
            return JSONResponse({"status": "ok", "checks": {}})
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
