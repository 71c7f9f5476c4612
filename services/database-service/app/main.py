"""The database-service app: PostgreSQL, Redis and ClickHouse behind the internal data API."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from app.api.main import routers
from app.core.backends import Backends
from app.core.clickhouse import ClickHouseUnavailable
from app.core.config import Settings, get_settings
from app.core.postgres import UNAVAILABLE_ERRORS
from servicekit.app import create_app

log = logging.getLogger("app")


async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    # Lost connections, exhausted pools and timeouts are transient: 503 tells the caller (and
    # servicekit's ServiceClient, for idempotent calls) to retry, where a 500 would not.
    log.warning("database unavailable: %s: %s", type(exc).__name__, exc)
    return JSONResponse(
        {"detail": "database unavailable, retry later"},
        status_code=503,
        headers={"retry-after": "1"},
    )


async def _clickhouse_unavailable(request: Request, exc: Exception) -> JSONResponse:
    # Same reasoning as above; the market API's callers keep their data and retry on 503.
    log.warning("clickhouse unavailable: %s", exc)
    return JSONResponse(
        {"detail": "clickhouse unavailable, retry later"},
        status_code=503,
        headers={"retry-after": "1"},
    )


def build_app(settings: Settings | None = None) -> FastAPI:
    """Build the app for `settings` (the environment's by default); tests build their own."""
    settings = settings or get_settings()
    backends = Backends(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            await backends.start()
            yield
        finally:
            await backends.stop()

    app = create_app(
        settings,
        routers=routers,
        health_checks=backends.health_checks(),
        critical={"postgres"},
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.backends = backends
    for error in UNAVAILABLE_ERRORS:
        app.add_exception_handler(error, _database_unavailable)
    app.add_exception_handler(ClickHouseUnavailable, _clickhouse_unavailable)
    return app


app = build_app()
