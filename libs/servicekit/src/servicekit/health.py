"""The health endpoint every service exposes, built from named checks.

A check is an async function that returns nothing when its backend answers (ok), returns a
string to report "degraded" with that reason, or raises to report "down".

A service with facts that are neither ok nor a problem (ml-processing's active model,
deep-learning's torch device) passes `extra`: a function whose fields join the report beside
`checks`, so no service needs a /health route of its own.
"""

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

Status = Literal["ok", "degraded", "down"]
Check = Callable[[], Awaitable[str | None]]
# Facts for the report: called on every GET /health, on the event loop, so cheap (no I/O).
Extra = Callable[[], Mapping[str, Any]]


class CheckResult(BaseModel):
    status: Status
    latency_ms: float
    detail: str | None = None


class HealthReport(BaseModel):
    # Allowed: the service's `extra` fields, after these three.
    model_config = ConfigDict(extra="allow")

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
    extra: Extra | None = None,
) -> APIRouter:
    """GET /health (503 when down, so Docker and the toolkit see it) and GET /health/live.

    `extra`: fields added to every report (see the module's docstring); they may not replace
    `service`, `status` or `checks`."""
    router = APIRouter(tags=["health"])
    critical_names = set(checks) if critical is None else critical

    @router.get("/health", response_model=HealthReport)
    async def health() -> JSONResponse:
        names = list(checks)
        results = await asyncio.gather(*(run_check(checks[n], timeout) for n in names))
        by_name = dict(zip(names, results, strict=True))
        facts = dict(extra()) if extra is not None else {}
        if taken := facts.keys() & HealthReport.model_fields.keys():
            raise ValueError(f"health extra may not replace {', '.join(sorted(taken))}")
        report = HealthReport(
            service=service, status=overall(by_name, critical_names), checks=by_name, **facts
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
