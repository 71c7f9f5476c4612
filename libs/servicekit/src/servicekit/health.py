"""The health endpoint every service exposes, built from named checks.

A check is an async function that returns nothing when its backend answers (ok), returns a
string to report "degraded" with that reason, or raises to report "down".
"""

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

Status = Literal["ok", "degraded", "down"]
Check = Callable[[], Awaitable[str | None]]


class CheckResult(BaseModel):
    status: Status
    latency_ms: float
    detail: str | None = None


class HealthReport(BaseModel):
    service: str
    status: Status
    checks: dict[str, CheckResult]


async def run_check(check: Check, limit: float) -> CheckResult:
    """Run one check with a timeout; never raises."""
    started = time.perf_counter()
    try:
        reason = await asyncio.wait_for(check(), limit)
        status: Status = "degraded" if reason else "ok"
        detail = reason or None
    except TimeoutError:
        status, detail = "down", f"no answer within {limit:g}s"
    except Exception as exc:  # noqa: BLE001 - any failure of a backend means "down"
        status, detail = "down", f"{type(exc).__name__}: {exc}"[:300]
    return CheckResult(
        status=status, latency_ms=round((time.perf_counter() - started) * 1000, 2), detail=detail
    )


def overall(results: Mapping[str, CheckResult], critical: set[str]) -> Status:
    """Down if a critical backend is down; degraded if anything else is not ok."""
    if any(results[name].status == "down" for name in critical if name in results):
        return "down"
    if any(result.status != "ok" for result in results.values()):
        return "degraded"
    return "ok"


def code_version() -> str | None:
    """The running code's marker: `__code_version__` of the service's `app` package when it
    sets one (dev mode's reload benchmark writes it into a copy of the source to see when the
    new code answers), else None and /health/live answers as it always did."""
    value = getattr(sys.modules.get("app"), "__code_version__", None)
    return None if value is None else str(value)


def health_router(
    service: str,
    checks: Mapping[str, Check],
    critical: set[str] | None = None,
    timeout: float = 2.0,
) -> APIRouter:
    """GET /health (503 when down, so Docker and the toolkit see it) and GET /health/live."""
    router = APIRouter(tags=["health"])
    critical_names = set(checks) if critical is None else critical

    @router.get("/health", response_model=HealthReport)
    async def health() -> JSONResponse:
        names = list(checks)
        results = await asyncio.gather(*(run_check(checks[n], timeout) for n in names))
        by_name = dict(zip(names, results, strict=True))
        report = HealthReport(
            service=service, status=overall(by_name, critical_names), checks=by_name
        )
        return JSONResponse(
            report.model_dump(), status_code=503 if report.status == "down" else 200
        )

    @router.get("/health/live")
    async def live() -> dict[str, str]:
        answer = {"service": service, "status": "alive"}
        if (code := code_version()) is not None:
            answer["code"] = code
        return answer

    return router
