"""The ai-orchestration application: LangGraph workflows across the platform's services."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from redis.asyncio import Redis

from app.api.routes import stats, workflows
from app.cache import ResultCache
from app.clients import Peers
from app.core.config import Settings, get_settings
from app.limiter import QueueFull, WorkflowLimiter
from app.stats import WorkflowStats
from app.workflows.errors import WorkflowError
from servicekit.app import create_app
from servicekit.redisclient import check_redis, redis_client

log = logging.getLogger("ai-orchestration")

# Without candles or a writer no brief can be made: database-service and ai-provider are
# critical. Redis only holds the result cache, trading-engine, ml-processing and deep-learning
# only optional parts: each of them degrades the service, none takes it down (the `ai` profile
# runs without deep-learning, and must still be healthy).
CRITICAL = {"database-service", "ai-provider"}


async def _workflow_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, WorkflowError)
    extra = {key: value for key, value in exc.extra.items() if value is not None}
    headers = {"Retry-After": "1"} if exc.status_code == 503 else None
    return JSONResponse({"detail": exc.detail, **extra}, exc.status_code, headers=headers)


async def _queue_full(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, QueueFull)
    return JSONResponse(
        {"detail": str(exc), "retry_after": exc.retry_after},
        status_code=429,
        headers={"Retry-After": str(exc.retry_after)},
    )


def build_app(settings: Settings) -> FastAPI:
    """Assemble the service around `settings` (tests build theirs with other values)."""
    peers = Peers(settings)
    # Created in the lifespan, inside the serving event loop; the health check reads it there.
    backends: dict[str, Redis] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await peers.open()
        redis = backends["redis"] = redis_client(settings)
        app.state.settings = settings
        app.state.peers = peers
        app.state.cache = ResultCache(redis)
        app.state.stats = WorkflowStats()
        # Before any run finished, a slot is assumed held for one step's timeout.
        app.state.limiter = WorkflowLimiter(
            settings.max_workflows, settings.workflow_queue, prior_seconds=settings.step_timeout
        )
        try:
            yield
        finally:
            await peers.aclose()
            await redis.aclose()

    app = create_app(
        settings,
        routers=[workflows.router, stats.router],
        health_checks={
            "redis": lambda: check_redis(backends["redis"]),
            "database-service": peers.check_database_token,
            "ai-provider": peers.required_check("ai-provider"),
            "trading-engine": peers.optional_check("trading-engine"),
            "ml-processing": peers.optional_check("ml-processing"),
            "deep-learning": peers.optional_check("deep-learning"),
        },
        critical=CRITICAL,
        lifespan=lifespan,
        title="ai-orchestration",
    )
    app.add_exception_handler(WorkflowError, _workflow_error)
    app.add_exception_handler(QueueFull, _queue_full)
    return app


app = build_app(get_settings())
