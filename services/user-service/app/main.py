"""The user-service application: accounts, logins and sessions."""

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from app import admin
from app.api.routes import auth
from app.core.backends import Backends
from app.core.config import Settings, get_settings
from app.core.security import dummy_hash
from app.crud import DatabaseServiceError
from servicekit.app import create_app, unavailable

log = logging.getLogger("user-service")

# Both are critical: without Redis no session can be created or checked, and without
# database-service no one can register or log in. Reporting "down" (503) for either makes
# Docker mark the container unhealthy, which is the truth: the gateway would only get errors.
CRITICAL = {"redis", "database-service"}


async def _ensure_admin(backends: Backends, settings: Settings) -> asyncio.Task | None:
    """Make the configured admin before serving; while database-service cannot say, keep
    trying in the background (not fatal: /health reports it down meanwhile)."""
    if not (settings.admin_username and settings.admin_password):
        return None
    try:
        await admin.ensure_admin(backends.db, settings)
    except DatabaseServiceError as exc:
        log.warning("admin account not checked at start-up: %s", exc)
        return asyncio.create_task(admin.keep_trying(backends.db, settings))
    return None


def build_app(settings: Settings) -> FastAPI:
    """Assemble the service around `settings` (tests build theirs with other values)."""
    backends = Backends(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await backends.open()
        app.state.settings = settings
        app.state.backends = backends
        # Made once now, not during the first login of an unknown user.
        await asyncio.to_thread(dummy_hash, settings.bcrypt_rounds)
        try:
            await backends.redis.ping()
        except (RedisConnectionError, RedisTimeoutError) as exc:
            # Not fatal: /health reports it and requests answer 503 until Redis is back.
            log.warning("redis not reachable at start-up: %s", exc)
        bootstrap = await _ensure_admin(backends, settings)
        try:
            yield
        finally:
            if bootstrap is not None:
                bootstrap.cancel()
            await backends.close()

    app = create_app(
        settings,
        routers=[auth.router],
        health_checks={"redis": backends.check_redis, "database-service": backends.check_database},
        critical=CRITICAL,
        lifespan=lifespan,
        title="user-service",
    )
    user_store = unavailable(
        "user store unavailable, try again later", "database-service", logger=log
    )
    app.add_exception_handler(DatabaseServiceError, user_store)
    session_store = unavailable("session store unavailable, try again later", "redis", logger=log)
    app.add_exception_handler(RedisConnectionError, session_store)
    app.add_exception_handler(RedisTimeoutError, session_store)
    return app


app = build_app(get_settings())
