"""The application factory: every service gets the same middleware, errors and health."""

import logging
from collections.abc import Iterable, Mapping

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from servicekit.health import Check, health_router
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


def create_app(
    settings: ServiceSettings,
    *,
    routers: Iterable[APIRouter] = (),
    health_checks: Mapping[str, Check] | None = None,
    critical: set[str] | None = None,
    lifespan=None,
    title: str | None = None,
    internal: bool = True,
) -> FastAPI:
    """Build a service's FastAPI app with the platform's conventions applied.

    `internal`: only callers holding a credential (INTERNAL_CALLERS) get past /health; every
    service but the gateway, the one public door, is internal."""
    configure_logging(settings.service_name, settings.log_level)
    app = FastAPI(
        title=title or settings.service_name,
        lifespan=lifespan,
    )
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unhandled_error)
    app.include_router(health_router(settings.service_name, health_checks or {}, critical))
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
