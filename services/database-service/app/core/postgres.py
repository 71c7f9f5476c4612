"""The PostgreSQL connection pool and its health check."""

import asyncpg

from app.core.config import Settings

# Errors meaning "the database cannot be reached right now" rather than "this request is wrong";
# the API answers them with 503 so callers (servicekit's ServiceClient) may retry.
UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.AdminShutdownError,
    OSError,
    TimeoutError,
)


async def create_pool(settings: Settings) -> asyncpg.Pool:
    """Open the pool; raises when PostgreSQL does not answer (the caller retries)."""
    return await asyncpg.create_pool(
        host=settings.postgres_host,
        port=settings.postgres_port,
        user=settings.postgres_user,
        password=settings.postgres_password,
        database=settings.postgres_db,
        min_size=min(settings.pool_min, settings.pool_max),
        max_size=settings.pool_max,
        timeout=settings.connect_timeout,
        command_timeout=settings.postgres_command_timeout,
        server_settings={"application_name": settings.service_name},
    )


async def check(pool: asyncpg.Pool | None, acquire_timeout: float) -> str | None:
    """Ok when a pooled connection answers; degraded when the pool is exhausted."""
    if pool is None:
        raise RuntimeError("not connected")
    try:
        async with pool.acquire(timeout=acquire_timeout) as conn:
            await conn.fetchval("SELECT 1")
    except TimeoutError:
        # Every connection busy and none freed in time: the database answers, we are saturated.
        if pool.get_size() >= pool.get_max_size() and pool.get_idle_size() == 0:
            return f"connection pool exhausted ({pool.get_max_size()} in use)"
        raise
    return None
