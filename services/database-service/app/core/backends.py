"""Every backend the service holds: opened at start-up, health-checked, closed at shutdown."""

import asyncio
import logging
from collections.abc import Awaitable, Callable

import asyncpg
import redis.asyncio as redis

from app.core import migrations, postgres
from app.core import redis as redis_backend
from app.core.clickhouse import ClickHouse
from app.core.config import Settings
from app.market.sql import DDL as MARKET_DDL
from servicekit.health import Check
from servicekit.retry import with_backoff

log = logging.getLogger("app.backends")

# The health endpoint gives each check 2 s; a pool wait must end before that to say "degraded".
HEALTH_ACQUIRE_TIMEOUT = 1.5


class PostgresUnavailable(RuntimeError):
    """PostgreSQL did not answer before the start-up deadline."""


class Backends:
    """PostgreSQL (required), Redis and ClickHouse (optional) for one app instance."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.pool: asyncpg.Pool | None = None
        self.redis: redis.Redis | None = None
        self.clickhouse: ClickHouse | None = None
        self._background: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Open PostgreSQL and migrate (or raise); Redis and ClickHouse come up in the background.

        Start-up waits for PostgreSQL alone: the optional backends are reported in /health
        meanwhile, and their clients connect on first use whenever that succeeds.
        """
        self.redis = redis_backend.create_client(self.settings)
        self.clickhouse = ClickHouse(self.settings, schema=MARKET_DDL)
        self._background = [
            asyncio.create_task(self._wait_optional("redis", self.check_redis)),
            # Besides logging readiness, this creates the ClickHouse database and tables as soon
            # as it can.
            asyncio.create_task(self._wait_optional("clickhouse", self.check_clickhouse)),
        ]
        await self._start_postgres()

    async def _start_postgres(self) -> None:
        s = self.settings
        where = f"{s.postgres_host}:{s.postgres_port}/{s.postgres_db}"
        try:
            self.pool = await with_backoff(
                "postgres", lambda: postgres.create_pool(s), deadline=s.startup_timeout
            )
        except Exception as exc:
            log.error(
                "postgres at %s unreachable after %.0fs, giving up: %s: %s",
                where,
                s.startup_timeout,
                type(exc).__name__,
                exc,
            )
            raise PostgresUnavailable(f"PostgreSQL at {where} unreachable") from exc
        log.info("postgres ready at %s (pool %d..%d)", where, self.pool.get_min_size(), s.pool_max)
        async with self.pool.acquire() as conn:
            applied = await migrations.apply(conn, max_seconds=s.startup_timeout)
        log.info("migrations: %d applied now", len(applied))

    async def _wait_optional(self, name: str, check: Check) -> None:
        async def attempt() -> None:
            await asyncio.wait_for(check(), self.settings.connect_timeout * 2)

        try:
            await with_backoff(name, attempt, deadline=self.settings.optional_startup_timeout)
        except Exception as exc:  # noqa: BLE001 - optional: any failure means "run without it"
            log.warning(
                "%s still unavailable after %.0fs (%s: %s); running without it, reported down "
                "in /health until it answers",
                name,
                self.settings.optional_startup_timeout,
                type(exc).__name__,
                exc,
            )
        else:
            log.info("%s ready", name)

    async def _stop_background(self) -> None:
        for task in self._background:
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        self._background = []

    async def stop(self) -> None:
        """Close every connection; never raises, so one failing close does not hide the rest."""
        closers: list[tuple[str, Callable[[], Awaitable[object]]]] = [
            ("start-up tasks", self._stop_background)
        ]
        if self.pool is not None:
            closers.append(("postgres", self._close_pool))
        if self.redis is not None:
            closers.append(("redis", self.redis.aclose))
        if self.clickhouse is not None:
            closers.append(("clickhouse", self.clickhouse.close))
        for name, close in closers:
            try:
                await close()
            except Exception as exc:  # noqa: BLE001 - shutting down: log and carry on
                log.warning("closing %s failed: %s", name, exc)

    async def _close_pool(self) -> None:
        assert self.pool is not None
        try:
            # Waits for requests still holding a connection, but not forever.
            await asyncio.wait_for(self.pool.close(), 10)
        except TimeoutError:
            self.pool.terminate()

    async def check_postgres(self) -> str | None:
        return await postgres.check(self.pool, HEALTH_ACQUIRE_TIMEOUT)

    async def check_redis(self) -> str | None:
        if self.redis is None:
            raise RuntimeError("not started")
        return await redis_backend.check(self.redis)

    async def check_clickhouse(self) -> str | None:
        if self.clickhouse is None:
            raise RuntimeError("not started")
        return await self.clickhouse.check()

    def health_checks(self) -> dict[str, Check]:
        return {
            "postgres": self.check_postgres,
            "redis": self.check_redis,
            "clickhouse": self.check_clickhouse,
        }
