"""Dependencies shared by the routes: settings, backends, a pooled connection (the internal
credential is checked before any of them, by servicekit.internal)."""

from collections.abc import AsyncIterator
from typing import Annotated

import asyncpg
from fastapi import Depends, HTTPException, status

from app.core.backends import Backends
from app.core.clickhouse import ClickHouse
from app.core.config import Settings
from servicekit.deps import get_backends, get_settings

SettingsDep = Annotated[Settings, Depends(get_settings)]
BackendsDep = Annotated[Backends, Depends(get_backends)]


async def get_db(backends: BackendsDep, settings: SettingsDep) -> AsyncIterator[asyncpg.Connection]:
    """One pooled connection for the request; a pool wait past the limit becomes a 503."""
    if backends.pool is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "database not connected")
    async with backends.pool.acquire(timeout=settings.pool_acquire_timeout) as conn:
        yield conn


DbDep = Annotated[asyncpg.Connection, Depends(get_db)]


async def get_pool(backends: BackendsDep) -> asyncpg.Pool:
    """The pool itself, for work that must outlive the request (it acquires on its own)."""
    if backends.pool is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "database not connected")
    return backends.pool


async def get_clickhouse(backends: BackendsDep) -> ClickHouse:
    if backends.clickhouse is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "clickhouse not connected")
    return backends.clickhouse


PoolDep = Annotated[asyncpg.Pool, Depends(get_pool)]
ClickHouseDep = Annotated[ClickHouse, Depends(get_clickhouse)]
