"""The application factory: every service gets the same middleware, errors and health."""

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Protocol

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from servicekit.health import Check, Extra, HealthMonitor, health_router
from servicekit.internal import InternalAuth, parse_callers
from servicekit.logging import configure_logging
from servicekit.middleware import RequestContextMiddleware
from servicekit.settings import ServiceSettings

log = logging.getLogger("servicekit.app")


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    if any(error.get("type") == "json_invalid" for error in errors):
        return JSONResponse({"detail": "request body is not valid JSON"}, status_code=400)
    details = [
        {"loc": list(error.get("loc", ())), "msg": error.get("msg"), "type": error.get("type")}
        for error in errors
    ]
    return JSONResponse({"detail": details}, status_code=422)


async def _unhandled_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error")
    request_id = request.scope.get("state", {}).get("request_id", "-")
    return JSONResponse({"detail": "internal error", "request_id": request_id}, status_code=500)


def unavailable(
    detail: str, what: str, *, logger: logging.Logger = log, level: int = logging.ERROR
) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
    """An exception handler for a backend that is away: 503 `{"detail": detail}` with
    Retry-After: 1, which tells the caller (and ServiceClient, for idempotent calls) to retry,
    where a 500 would not; logs `<what> unavailable: <error>` on `logger`."""

    async def handler(request: Request, exc: Exception) -> JSONResponse:
        logger.log(level, "%s unavailable: %s: %s", what, type(exc).__name__, exc)
        return JSONResponse({"detail": detail}, status_code=503, headers={"Retry-After": "1"})

    return handler


def _with_health(
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager] | None, monitor: HealthMonitor
) -> Callable[[FastAPI], AbstractAsyncContextManager]:
    """The service's lifespan, with the health checker running inside it: started once the
    service has opened its backends (the checks use them), stopped before it closes them."""

    @asynccontextmanager
    async def lifespan_with_health(app: FastAPI) -> AsyncIterator[object]:
        async with AsyncExitStack() as stack:
            state = await stack.enter_async_context(lifespan(app)) if lifespan else None
            await stack.enter_async_context(monitor.running())
            yield state

    return lifespan_with_health


def create_app(
    settings: ServiceSettings,
    *,
    routers: Iterable[APIRouter] = (),
    health_checks: Mapping[str, Check] | None = None,
    critical: set[str] | None = None,
    lifespan=None,
    title: str | None = None,
    internal: bool = True,
    health_extra: Extra | None = None,
) -> FastAPI:
    """Build a service's FastAPI app with the platform's conventions applied.

    `internal`: only callers holding a credential (INTERNAL_CALLERS) get past /health; every
    service but the gateway, the one public door, is internal. `health_extra`: fields /health
    reports beside its checks (servicekit.health). The checks run in the background every
    HEALTH_INTERVAL seconds while the app lives (its monitor is `app.state.health`); /health
    answers from the last round."""
    configure_logging(settings.service_name, settings.log_level)
    monitor = HealthMonitor(
        settings.service_name, health_checks or {}, critical, interval=settings.health_interval
    )
    app = FastAPI(
        title=title or settings.service_name,
        lifespan=_with_health(lifespan, monitor),
    )
    app.state.health = monitor
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unhandled_error)
    app.include_router(health_router(monitor, extra=health_extra))
    for router in routers:
        app.include_router(router)
    if internal:
        callers = parse_callers(settings.internal_callers)
        if not callers:
            log.warning("INTERNAL_CALLERS is empty: every request but /health is refused (401)")
        app.add_middleware(InternalAuth, callers=callers, service=settings.service_name)
    # Added last, so outermost: a refused request still gets its id and its access-log line.
    app.add_middleware(RequestContextMiddleware, max_body_bytes=settings.max_body_bytes)
    return app


class Lifetime(Protocol):
    """What a service holds for its lifetime: opened in the serving event loop, then closed."""

    async def open(self) -> None: ...

    async def close(self) -> None: ...


def backends_lifespan(
    settings: ServiceSettings, backends: Lifetime
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """The lifespan of a service whose state is its settings and one `backends` object: open
    it (inside the serving event loop: pools and clients must not be shared across forks),
    publish both on app.state (servicekit.deps reads them there), close it at shutdown."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await backends.open()
        app.state.settings = settings
        app.state.backends = backends
        try:
            yield
        finally:
            await backends.close()

    return lifespan
