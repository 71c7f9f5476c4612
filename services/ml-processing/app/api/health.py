"""GET /health with the registry's state beside the checks: the active version and kind.

servicekit's report has no place for facts that are neither ok nor a problem, so this route
answers GET /health ahead of servicekit's (the same checks, statuses and 503 rule, through
servicekit's own `run_check` and `overall`) and adds `models`. /health/live stays
servicekit's. deep-learning does the same for its runtime; a servicekit hook for extra report
fields would make both modules unnecessary.
"""

import asyncio
from collections.abc import Callable, Mapping

from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse

from servicekit.health import Check, HealthReport, overall, run_check

CHECK_TIMEOUT = 2.0


class ModelsHealthReport(HealthReport):
    """servicekit's report plus `models` (active_version, active_kind, versions)."""

    models: dict


def health_router(
    service: str, checks: Mapping[str, Check], critical: set[str], describe: Callable[[], dict]
) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/health", response_model=ModelsHealthReport)
    async def health() -> JSONResponse:
        names = list(checks)
        results = await asyncio.gather(*(run_check(checks[n], CHECK_TIMEOUT) for n in names))
        by_name = dict(zip(names, results, strict=True))
        report = ModelsHealthReport(
            service=service, status=overall(by_name, critical), checks=by_name, models=describe()
        )
        return JSONResponse(
            report.model_dump(), status_code=503 if report.status == "down" else 200
        )

    return router


def replace_health(app: FastAPI, router: APIRouter) -> None:
    """Serve `router`'s GET /health ahead of servicekit's: the app matches routes in order,
    so moving the newly included router to the front makes it answer /health first."""
    before = len(app.router.routes)
    app.include_router(router)
    added = app.router.routes[before:]
    del app.router.routes[before:]
    app.router.routes[0:0] = added
