"""The deep-learning application: candle forecasters in torch and sentence embeddings."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from app.api.routes import embeddings, forecast, forecasters, health
from app.core import runtime as runtime_lib
from app.core.backends import Backends
from app.core.config import Settings, get_settings
from app.embeddings import EmbeddingModelUnavailable
from app.forecasting.checkpoints import UnknownVersion
from app.forecasting.data import NotEnoughHistory
from app.forecasting.jobs import UnknownJob
from app.market import MarketDataUnavailable, NoCandles, NotEnoughCandles
from servicekit.app import create_app

log = logging.getLogger("deep-learning")

# Forecasting from stored candles and every training need database-service: critical.
# Embeddings need neither; while the model loads the service is degraded, not down.
CRITICAL = {"database-service", "checkpoints"}


async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.error("unavailable: %s", exc)
    detail = (
        "market data unavailable, try again later"
        if isinstance(exc, MarketDataUnavailable)
        else f"embedding model unavailable: {exc}"
    )
    return JSONResponse({"detail": detail}, status_code=503, headers={"Retry-After": "1"})


async def _not_found(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=404)


async def _not_enough(request: Request, exc: Exception) -> JSONResponse:
    # 409: the request is sound but the stored history is too short (or flat) for it, yet.
    return JSONResponse({"detail": f"not enough candles: {exc}"}, status_code=409)


def build_app(settings: Settings) -> FastAPI:
    """Assemble the service around `settings` (tests build theirs with other values)."""
    # First: the offline switches must be set before anything imports the Hugging Face
    # libraries (nothing here does at import; the embedding model's loader does, later).
    runtime = runtime_lib.configure(settings.device, settings.threads)
    backends = Backends(settings, runtime)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await backends.open()
        app.state.settings = settings
        app.state.backends = backends
        try:
            yield
        finally:
            await backends.close()

    checks = {
        "database-service": backends.check_database,
        "checkpoints": backends.check_checkpoints,
        "embedding-model": backends.embedder.check,
    }
    app = create_app(
        settings,
        routers=[forecasters.router, forecast.router, embeddings.router],
        critical=CRITICAL,
        lifespan=lifespan,
        title="deep-learning",
    )
    health.replace_health(
        app, health.health_router(settings.service_name, checks, CRITICAL, runtime.describe)
    )
    app.add_exception_handler(MarketDataUnavailable, _unavailable)
    app.add_exception_handler(EmbeddingModelUnavailable, _unavailable)
    app.add_exception_handler(NoCandles, _not_found)
    app.add_exception_handler(UnknownVersion, _not_found)
    app.add_exception_handler(UnknownJob, _not_found)
    app.add_exception_handler(NotEnoughCandles, _not_enough)
    app.add_exception_handler(NotEnoughHistory, _not_enough)
    return app


app = build_app(get_settings())
