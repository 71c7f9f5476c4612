"""The deep-learning application: candle forecasters in torch and sentence embeddings."""

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from app.api.routes import embeddings, forecast, forecasters
from app.core import runtime as runtime_lib
from app.core.backends import Backends
from app.core.config import Settings, get_settings
from app.embeddings import EmbeddingModelUnavailable
from app.forecasting.checkpoints import UnknownVersion
from app.forecasting.data import NotEnoughHistory
from app.forecasting.jobs import UnknownJob
from servicekit import market
from servicekit.app import backends_lifespan, create_app

log = logging.getLogger("deep-learning")

# Forecasting from stored candles and every training need database-service: critical.
# Embeddings need neither; while the model loads the service is degraded, not down.
CRITICAL = {"database-service", "checkpoints"}


async def _embedder_unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.error("unavailable: %s", exc)
    detail = f"embedding model unavailable: {exc}"
    return JSONResponse({"detail": detail}, status_code=503, headers={"Retry-After": "1"})


async def _not_found(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=404)


def build_app(settings: Settings) -> FastAPI:
    """Assemble the service around `settings` (tests build theirs with other values)."""
    # First: the offline switches must be set before anything imports the Hugging Face
    # libraries (nothing here does at import; the embedding model's loader does, later).
    runtime = runtime_lib.configure(settings.device, settings.threads)
    backends = Backends(settings, runtime)
    app = create_app(
        settings,
        routers=[forecasters.router, forecast.router, embeddings.router],
        health_checks={
            "database-service": backends.check_database,
            "checkpoints": backends.check_checkpoints,
            "embedding-model": backends.embedder.check,
        },
        critical=CRITICAL,
        lifespan=backends_lifespan(settings, backends),
        title="deep-learning",
        # torch's runtime beside the checks: `runtime` (device, torch_threads, torch, cuda).
        health_extra=lambda: {"runtime": runtime.describe()},
    )
    # 503 market data unavailable, 404 no candles, 409 too few (or flat: NotEnoughHistory).
    market.add_handlers(app)
    app.add_exception_handler(NotEnoughHistory, market.not_enough)
    app.add_exception_handler(EmbeddingModelUnavailable, _embedder_unavailable)
    app.add_exception_handler(UnknownVersion, _not_found)
    app.add_exception_handler(UnknownJob, _not_found)
    return app


app = build_app(get_settings())
