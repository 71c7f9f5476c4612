"""Dependencies shared by the routes: settings, backends, a pooled connection, the token check."""

import hmac
from collections.abc import AsyncIterator
from typing import Annotated

import asyncpg
from fastapi import Depends, HTTPException, Request, status

from app.core.backends import Backends
from app.core.clickhouse import ClickHouse
from app.core.config import Settings

INTERNAL_TOKEN_HEADER = "x-internal-token"  # noqa: S105 - a header name, not a secret


def get_app_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_backends(request: Request) -> Backends:
    return request.app.state.backends


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
BackendsDep = Annotated[Backends, Depends(get_backends)]


async def get_db(backends: BackendsDep, settings: SettingsDep) -> AsyncIterator[asyncpg.Connection]:
    """One pooled connection for the request; a pool wait past the limit becomes a 503."""
    if backends.pool is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "database not connected")
    async with backends.pool.acquire(timeout=settings.pool_acquire_timeout) as conn:
        yield conn


DbDep = Annotated[asyncpg.Connection, Depends(get_db)]


def get_pool(backends: BackendsDep) -> asyncpg.Pool:
    """The pool itself, for work that must outlive the request (it acquires on its own)."""
    if backends.pool is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "database not connected")
    return backends.pool


def get_clickhouse(backends: BackendsDep) -> ClickHouse:
    if backends.clickhouse is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "clickhouse not connected")
    return backends.clickhouse


PoolDep = Annotated[asyncpg.Pool, Depends(get_pool)]
ClickHouseDep = Annotated[ClickHouse, Depends(get_clickhouse)]


def verify_internal_token(request: Request) -> None:
    """Raise 401 unless X-Internal-Token equals INTERNAL_TOKEN (an empty setting refuses all)."""
    expected = get_app_settings(request).internal_token
    supplied = request.headers.get(INTERNAL_TOKEN_HEADER, "")
    # Compared as bytes: compare_digest refuses non-ASCII str, and headers may carry any byte.
    if not expected or not hmac.compare_digest(supplied.encode(), expected.encode()):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing or invalid internal token")
