"""The database-service app: PostgreSQL, Redis and ClickHouse behind the internal data API."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app.api.main import routers
from app.core.backends import Backends
from app.core.clickhouse import ClickHouseUnavailable
from app.core.config import Settings, get_settings
from app.core.postgres import UNAVAILABLE_ERRORS
from servicekit.app import create_app, unavailable

log = logging.getLogger("app")


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
    # Lost connections, exhausted pools and timeouts are transient: 503, and the callers retry
    # (the market API's keep their data meanwhile).
    database = unavailable(
        "database unavailable, retry later", "database", logger=log, level=logging.WARNING
    )
    for error in UNAVAILABLE_ERRORS:
        app.add_exception_handler(error, database)
    clickhouse = unavailable(
        "clickhouse unavailable, retry later", "clickhouse", logger=log, level=logging.WARNING
    )
    app.add_exception_handler(ClickHouseUnavailable, clickhouse)
    return app


app = build_app()
