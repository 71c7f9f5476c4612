"""Builds the api-gateway application: `uvicorn app.main:app`."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app.api.routes import auth, services, websockets
from app.core.clients import Clients
from app.core.config import AUTH_SERVICE, Settings
from app.core.redaction import redact_query_tokens
from app.health import health_checks
from servicekit.app import create_app

log = logging.getLogger("app.main")


def create_gateway(settings: Settings | None = None) -> FastAPI:
    """The gateway for `settings` (read from the environment when not given)."""
    settings = settings or Settings()
    clients = Clients(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Opened here, once per worker process: pools must not be shared across forks.
        clients.open()
        log.info(
            "routing /auth to %s; public services: %s",
            settings.upstreams[AUTH_SERVICE],
            ", ".join(settings.public_services) or "none",
        )
        try:
            yield
        finally:
            await clients.close()

    app = create_app(
        settings,
        routers=[auth.router, services.router, websockets.router],
        health_checks=health_checks(clients),
        critical={"redis"},
        lifespan=lifespan,
        title="api-gateway",
        internal=False,  # the one public door: its callers prove who they are with tokens
    )
    app.state.clients = clients
    # uvicorn logs WebSocket handshakes with their query, where browsers put the access token.
    redact_query_tokens()
    return app


app = create_gateway()
