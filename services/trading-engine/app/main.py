"""The trading-engine application: indicators, signals and backtests on stored candles."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from app.api.routes import backtest, indicators, signals
from app.core.backends import Backends
from app.core.config import Settings, get_settings
from app.market import MarketDataUnavailable, NoCandles, NotEnoughCandles
from app.ml import NotEnoughHistory
from servicekit.app import create_app

log = logging.getLogger("trading-engine")

# Without database-service there are no candles, so nothing can be answered: critical (503,
# and Docker sees the container unhealthy). Redis only holds the signal cache: when it is down
# signals are computed every time, so it degrades the service but does not take it down.
CRITICAL = {"database-service"}


async def _market_data_unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.error("market data unavailable: %s", exc)
    return JSONResponse(
        {"detail": "market data unavailable, try again later"},
        status_code=503,
        headers={"Retry-After": "1"},
    )


async def _no_candles(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=404)


async def _not_enough(request: Request, exc: Exception) -> JSONResponse:
    # 409: the request is sound but the stored history is too short for it (yet).
    return JSONResponse({"detail": f"not enough candles: {exc}"}, status_code=409)


def build_app(settings: Settings) -> FastAPI:
    """Assemble the service around `settings` (tests build theirs with other values)."""
    backends = Backends(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await backends.open()
        app.state.settings = settings
        app.state.backends = backends
        try:
            yield
        finally:
            await backends.close()

    app = create_app(
        settings,
        routers=[indicators.router, signals.router, backtest.router],
        health_checks={"redis": backends.check_redis, "database-service": backends.check_database},
        critical=CRITICAL,
        lifespan=lifespan,
        title="trading-engine",
    )
    app.add_exception_handler(MarketDataUnavailable, _market_data_unavailable)
    app.add_exception_handler(NoCandles, _no_candles)
    app.add_exception_handler(NotEnoughCandles, _not_enough)
    app.add_exception_handler(NotEnoughHistory, _not_enough)
    return app


app = build_app(get_settings())
