"""The ml-processing application: tabular models on candle features, a versioned registry and
fast predictions with a cache."""

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from app.api.routes import features, jobs, models, predict, stats
from app.core.backends import Backends
from app.core.config import Settings, get_settings
from app.jobs import TooManyJobs
from app.predictor import FeatureError
from app.registry import DamagedVersion, NoActiveModel, NothingToRollBack, UnknownVersion
from app.training import NotEnoughCandles, NothingToLearn
from servicekit import market
from servicekit.app import backends_lifespan, create_app

# Nothing is critical: predictions need only the models in memory, so without database-service
# (no training, no /features) or with a read-only MODEL_DIR (no new versions) the service is
# degraded, still answering, never taken out of rotation.
CRITICAL: set[str] = set()


def _answer(status_code: int, **headers: str):
    async def handler(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=status_code, headers=headers)

    return handler


async def _not_enough(request: Request, exc: NotEnoughCandles) -> JSONResponse:
    # 409: the request is sound but the stored history is too short for it (yet).
    return JSONResponse(
        {"detail": str(exc), "needed": exc.needed, "available": exc.available}, status_code=409
    )


async def _bad_features(request: Request, exc: FeatureError) -> JSONResponse:
    fields = {k: v for k, v in exc.fields.items() if v is not None}
    return JSONResponse({"detail": str(exc), **fields}, status_code=422)


def build_app(settings: Settings) -> FastAPI:
    """Assemble the service around `settings` (tests build theirs with other values)."""
    backends = Backends(settings)
    app = create_app(
        settings,
        routers=[models.router, jobs.router, predict.router, features.router, stats.router],
        health_checks={
            "database-service": backends.check_database,
            "model-dir": backends.check_model_dir,
            "models": backends.check_models,
        },
        critical=CRITICAL,
        lifespan=backends_lifespan(settings, backends),
        title="ml-processing",
        # The registry's state beside the checks: `models` (active version and kind, versions).
        health_extra=lambda: {"models": backends.describe()},
    )
    # 503 market data unavailable, 404 no candles (its own NotEnoughCandles, below, says more).
    market.add_handlers(app)
    app.add_exception_handler(NotEnoughCandles, _not_enough)
    app.add_exception_handler(NothingToLearn, _answer(409))
    app.add_exception_handler(UnknownVersion, _answer(404))
    app.add_exception_handler(NoActiveModel, _answer(409))
    app.add_exception_handler(NothingToRollBack, _answer(409))
    app.add_exception_handler(DamagedVersion, _answer(409))
    app.add_exception_handler(FeatureError, _bad_features)
    app.add_exception_handler(TooManyJobs, _answer(429, **{"Retry-After": "5"}))
    return app


app = build_app(get_settings())
