"""The health endpoint every service exposes, built from named checks run in the background.

A check is an async function that returns nothing when its backend answers (ok), returns a
string to report "degraded" with that reason, or raises to report "down".

The checks run on their own, every HEALTH_INTERVAL seconds (`HealthMonitor`, started and
stopped with the app's lifespan), and GET /health answers from the last round with its age:
whoever polls (Docker's HEALTHCHECK, a load balancer, the gateway, a dashboard) costs no
dependency call, however often or however many at once. A round older than a few intervals
means the checker is stuck: served as down, never as healthy. Before the first round /health
waits for it (bounded), then answers "starting" (503).

A service with facts that are neither ok nor a problem (ml-processing's active model,
deep-learning's torch device) passes `extra`: a function whose fields join the report beside
`checks`, so no service needs a /health route of its own.
"""

import asyncio
import logging
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

log = logging.getLogger("servicekit.health")

Status = Literal["ok", "degraded", "down"]
# A report may also be "starting": no round has completed yet (answered 503).
ReportStatus = Literal["ok", "degraded", "down", "starting"]
Check = Callable[[], Awaitable[str | None]]
# Facts for the report: called on every GET /health, on the event loop, so cheap (no I/O).
Extra = Callable[[], Mapping[str, Any]]

# Seconds one check may take before it counts as down.
CHECK_TIMEOUT = 2.0
# A round older than this many intervals (plus one check's timeout) is stale: the checker is
# stuck (a blocked event loop, a check that ignores cancellation), so its answer is not news.
STALE_INTERVALS = 3


class CheckResult(BaseModel):
    status: Status
    latency_ms: float
    detail: str | None = None


class HealthReport(BaseModel):
    # Allowed: the service's `extra` fields, after these.
    model_config = ConfigDict(extra="allow")

    service: str
    status: ReportStatus
    checks: dict[str, CheckResult]
    # When the round these checks come from ended (UTC, ISO 8601) and how long ago, in seconds;
    # None while starting.
    checked_at: str | None = None
    age_s: float | None = None
    # Why the report is not the round's own verdict: starting, or stale.
    detail: str | None = None


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


@dataclass(frozen=True)
class Round:
    """One run of every check: the results, their verdict, when it ended (wall and monotonic)."""

    checks: dict[str, CheckResult]
    status: Status
    checked_at: str
    finished: float


class HealthMonitor:
    """Runs a service's checks every `interval` seconds in the background and keeps the last
    round, so that reading health asks no dependency anything.

    `clock` (monotonic seconds) is what ages a round; tests pass their own to age one."""

    def __init__(
        self,
        service: str,
        checks: Mapping[str, Check],
        critical: set[str] | None = None,
        *,
        interval: float = 2.0,
        timeout: float = CHECK_TIMEOUT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if interval <= 0:
            raise ValueError("the health interval must be positive")
        self.service = service
        self.checks = dict(checks)
        self.critical = set(checks) if critical is None else set(critical)
        self.interval = interval
        self.timeout = timeout
        self.stale_after = STALE_INTERVALS * interval + timeout
        self._clock = clock
        self._latest: Round | None = None
        self._task: asyncio.Task[None] | None = None
        # Set when a round ends, then replaced: waiters wake once per round. Made in the loop
        # that runs the checker (`running`), as an app may be served by several loops in turn.
        self._round_done: asyncio.Event | None = None
        # One round at a time, so the last round kept is the last one begun (check_now may be
        # called beside the checker: a test that just broke a backend, waiting to see it).
        self._one_round: asyncio.Lock | None = None

    @property
    def latest(self) -> Round | None:
        return self._latest

    async def check_now(self) -> Round:
        """Run every check once (concurrently, each bounded by `timeout`) and keep the round;
        after the round under way, if any."""
        if self._one_round is None:
            self._one_round = asyncio.Lock()
        async with self._one_round:
            return await self._check()

    async def _check(self) -> Round:
        names = list(self.checks)
        results = await asyncio.gather(*(run_check(self.checks[n], self.timeout) for n in names))
        by_name = dict(zip(names, results, strict=True))
        self._latest = Round(
            checks=by_name,
            status=overall(by_name, self.critical),
            checked_at=datetime.now(UTC).isoformat(timespec="milliseconds"),
            finished=self._clock(),
        )
        if self._round_done is not None:
            done, self._round_done = self._round_done, asyncio.Event()
            done.set()
        return self._latest

    async def next_round(self) -> Round:
        """Wait until the background checker ends its next round, and return it."""
        done = self._round_done
        if done is None:
            raise RuntimeError("the health checker is not running")
        await done.wait()
        assert self._latest is not None
        return self._latest

    async def _run(self) -> None:
        while True:
            started = self._clock()
            try:
                await self.check_now()
            except Exception:  # keep checking; a round that never ends shows as stale
                log.exception("a round of health checks failed")
            await asyncio.sleep(max(0.0, self.interval - (self._clock() - started)))

    @asynccontextmanager
    async def running(self) -> AsyncIterator["HealthMonitor"]:
        """Check in the background while inside (the app's lifespan), first round at once."""
        self._latest = None
        self._round_done = asyncio.Event()
        self._one_round = asyncio.Lock()
        self._task = asyncio.create_task(self._run(), name=f"{self.service} health checks")
        try:
            yield self
        finally:
            task, self._task = self._task, None
            task.cancel()
            # Bounded: a check that swallows its cancellation must not hold up the shutdown.
            await asyncio.wait({task}, timeout=self.timeout)
            if not task.done():
                log.warning("health checks still running at shutdown; left behind")
            self._round_done = None

    async def report(self) -> HealthReport:
        """The last round as a report: waits (at most one check's timeout, and a little) for
        the first round; "starting" if none came, "down" if the last one is stale."""
        latest = self._latest
        if latest is None and self._task is not None and self._round_done is not None:
            # Taken now, not inside wait_for's task: a round that ends before that task runs
            # sets this very event, where the next one would wait a whole interval.
            first = self._round_done
            with suppress(TimeoutError):
                await asyncio.wait_for(first.wait(), self.timeout + 0.5)
            latest = self._latest
        if latest is None:
            why = "the first health checks have not finished yet"
            if self._task is None:
                why = "health checks are not running (the app's lifespan has not started)"
            return HealthReport(service=self.service, status="starting", checks={}, detail=why)
        age = max(0.0, self._clock() - latest.finished)
        report = HealthReport(
            service=self.service,
            status=latest.status,
            checks=latest.checks,
            checked_at=latest.checked_at,
            age_s=round(age, 3),
        )
        if age > self.stale_after:
            report.status = "down"
            report.detail = (
                f"stale: the last health checks ended {age:.1f}s ago "
                f"(every {self.interval:g}s; stale after {self.stale_after:g}s)"
            )
        return report


def code_version() -> str | None:
    """The running code's marker: `__code_version__` of the service's `app` package when it
    sets one (dev mode's reload benchmark writes it into a copy of the source to see when the
    new code answers), else None and /health/live answers as it always did."""
    value = getattr(sys.modules.get("app"), "__code_version__", None)
    return None if value is None else str(value)


def health_router(monitor: HealthMonitor, extra: Extra | None = None) -> APIRouter:
    """GET /health from `monitor`'s last round (503 when down or starting, so Docker and the
    toolkit see it) and GET /health/live (the process answers; asks nothing).

    `extra`: fields added to every report (see the module's docstring); they may not replace
    the report's own fields."""
    router = APIRouter(tags=["health"])

    @router.get("/health", response_model=HealthReport)
    async def health() -> JSONResponse:
        report = await monitor.report()
        facts = dict(extra()) if extra is not None else {}
        if taken := facts.keys() & HealthReport.model_fields.keys():
            raise ValueError(f"health extra may not replace {', '.join(sorted(taken))}")
        body = {**report.model_dump(), **facts}
        healthy = report.status in ("ok", "degraded")
        return JSONResponse(body, status_code=200 if healthy else 503)

    @router.get("/health/live")
    async def live() -> dict[str, str]:
        answer = {"service": monitor.service, "status": "alive"}
        if (code := code_version()) is not None:
            answer["code"] = code
        return answer

    return router
