"""The ai-provider application: an OpenAI-compatible API over many model providers, with
routing, fallback, a response cache and cost accounting."""

import logging
from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from redis.exceptions import RedisError

from app.api.routes import chat, embeddings, models, stats
from app.core.backends import Backends
from app.core.config import Settings, get_settings
from app.deep_learning import DeepLearningUnavailable, EmbeddingRejected
from app.dispatch import AllCandidatesFailed
from app.registry import UnknownModel, load_registry
from app.router import CostCeilingExceeded
from servicekit.app import backends_lifespan, create_app, unavailable

log = logging.getLogger("ai-provider")

# Redis holds the cache, the ledger and the counters of both workers: without it no request
# can be accounted. deep-learning only adds the semantic cache and the default embeddings.
CRITICAL = {"redis"}


async def _unknown_model(request: Request, exc: UnknownModel) -> JSONResponse:
    return JSONResponse({"detail": str(exc), "available": exc.available}, status_code=404)


async def _over_budget(request: Request, exc: CostCeilingExceeded) -> JSONResponse:
    body = {"detail": str(exc), "cheapest": exc.cheapest, "cheapest_estimate_usd": exc.estimate}
    return JSONResponse(body, status_code=422)


async def _all_failed(request: Request, exc: AllCandidatesFailed) -> JSONResponse:
    return JSONResponse({"detail": str(exc), "failures": exc.failures}, status_code=502)


async def _deep_learning_down(request: Request, exc: DeepLearningUnavailable) -> JSONResponse:
    detail = f"{exc}; model all-minilm-l6-v2 needs deep-learning (or name a hosted model)"
    return JSONResponse({"detail": detail}, status_code=503, headers={"Retry-After": "10"})


async def _rejected(request: Request, exc: EmbeddingRejected) -> JSONResponse:
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)


def build_app(settings: Settings, environ: Mapping[str, str] | None = None) -> FastAPI:
    """Assemble the service around `settings` and the provider keys in `environ` (the
    process environment by default; tests build theirs with other values)."""
    backends = Backends(settings, load_registry(settings, environ))
    app = create_app(
        settings,
        routers=[chat.router, embeddings.router, models.router, stats.router],
        health_checks={
            "redis": backends.check_redis,
            "deep-learning": backends.check_deep_learning,
        },
        critical=CRITICAL,
        lifespan=backends_lifespan(settings, backends),
        title="ai-provider",
    )
    app.add_exception_handler(UnknownModel, _unknown_model)
    app.add_exception_handler(CostCeilingExceeded, _over_budget)
    app.add_exception_handler(AllCandidatesFailed, _all_failed)
    app.add_exception_handler(DeepLearningUnavailable, _deep_learning_down)
    app.add_exception_handler(EmbeddingRejected, _rejected)
    ledger = "the cache and cost ledger (Redis) are unavailable, try again later"
    app.add_exception_handler(RedisError, unavailable(ledger, "redis", logger=log))
    return app


app = build_app(get_settings())
