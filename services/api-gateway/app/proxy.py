"""Forwarding one request to an upstream service and its answer back to the client.

Request bodies are buffered (servicekit already caps them at MAX_BODY_BYTES), so an oversized
body is refused before any upstream sees it and an idempotent request can be resent once.
Responses are buffered when small and declared, streamed otherwise; the locations they name
are made public (app.redirects). Error bodies name the service, never its address.
"""

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable
from urllib.parse import unquote

import aiohttp
from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.requests import HTTPConnection
from starlette.responses import Response, StreamingResponse
from yarl import URL

from app.core.security import Identity
from app.redirects import rewrite_locations
from servicekit.http import IDEMPOTENT
from servicekit.logging import request_id_var

log = logging.getLogger("app.proxy")

HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)
# Set by the gateway alone: a client must not be able to claim an identity or internal status.
# Host and content-length are recomputed by aiohttp; expect was already answered by uvicorn.
DROP_FROM_CLIENT = HOP_BY_HOP | {
    b"host",
    b"content-length",
    b"expect",
    b"x-user-id",
    b"x-username",
    b"x-user-role",
    b"x-internal-token",
    b"x-request-id",
    b"x-real-ip",
    b"x-forwarded-for",
    b"x-forwarded-host",
    b"x-forwarded-proto",
}
# Uvicorn and the request-id middleware add their own copies of these.
DROP_FROM_UPSTREAM = HOP_BY_HOP | {b"date", b"server", b"x-request-id"}
BUFFER_LIMIT = 256 * 1024
METHODS = ["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"]


class BadPath(ValueError):
    """A path the gateway refuses to forward."""


def upstream_url(
    base: str, request: HTTPConnection, skip_segments: int, query: bytes | None = None
) -> str:
    """`base` + the request's path minus its first `skip_segments` segments + its query.

    The raw (still percent-encoded) path is forwarded so %2F and friends reach the upstream
    exactly as sent; dot segments are refused, since an upstream resolving them would escape
    the routed prefix. `query` replaces the request's own query string when given.
    """
    raw_path: bytes = request.scope.get("raw_path") or request.scope["path"].encode()
    parts = raw_path.decode("latin-1").split("/")[1 + skip_segments :]
    if any(unquote(part) in (".", "..") for part in parts):
        raise BadPath("path must not contain '.' or '..' segments")
    if query is None:
        query = request.scope.get("query_string", b"")
    return base + "/" + "/".join(parts) + ("?" + query.decode("latin-1") if query else "")


def _connection_tokens(headers: list[tuple[bytes, bytes]]) -> set[bytes]:
    """Header names a Connection header declares hop-by-hop."""
    return {
        token.strip().lower()
        for name, value in headers
        if name.lower() == b"connection"
        for token in value.split(b",")
    }


def forward_headers(
    request: HTTPConnection, identity: Identity | None, client: str, credential: str
) -> list[tuple[bytes, bytes]]:
    """Client headers minus hop-by-hop and identity ones, plus what the gateway vouches for:
    `client` (app.clientaddress) as X-Real-IP, which upstreams' limits count, the identity,
    and its own internal `credential` (INTERNAL_TOKEN), without which no upstream answers."""
    raw = request.headers.raw
    drop = DROP_FROM_CLIENT | _connection_tokens(raw)
    headers = [(name, value) for name, value in raw if name.lower() not in drop]
    peer = request.client.host if request.client else "unknown"
    # The chain goes on as proxies pass it: what came in, plus the peer. Only X-Real-IP is ours.
    prior = b", ".join(value for name, value in raw if name.lower() == b"x-forwarded-for")
    forwarded_for = prior + b", " + peer.encode() if prior else peer.encode()
    headers += [
        (b"x-real-ip", client.encode("latin-1")),
        (b"x-forwarded-for", forwarded_for),
        (b"x-forwarded-proto", request.scope.get("scheme", "http").encode()),
        (b"x-request-id", request_id_var.get().encode("latin-1")),
        (b"x-internal-token", credential.encode("latin-1")),
    ]
    if host := request.headers.get("host"):
        headers.append((b"x-forwarded-host", host.encode("latin-1")))
    if identity is not None:
        headers += [
            (b"x-user-id", identity.user_id.encode()),
            (b"x-username", identity.username.encode()),
            (b"x-user-role", identity.role.encode()),
        ]
    return headers


async def _send(
    http: aiohttp.ClientSession,
    method: str,
    url: str,
    headers: list[tuple[str, str]],
    body: bytes | None,
    expires_at: float,
) -> aiohttp.ClientResponse:
    """Send until the response head arrives; idempotent methods get one more try."""

    def attempt() -> Awaitable[aiohttp.ClientResponse]:
        # encoded: the path goes out exactly as the client sent it (yarl would requote it).
        return http.request(
            method, URL(url, encoded=True), headers=headers, data=body, allow_redirects=False
        )

    async with asyncio.timeout_at(expires_at):
        if method in IDEMPOTENT:
            try:
                return await attempt()
            # Refused (a replica stopping under a rolling update), or an answer that is not
            # HTTP: an idempotent request may be sent again whatever the upstream did with it.
            # A pooled socket the upstream closed or reset just then aiohttp resends on its own,
            # once, for these same methods (RFC 9112 9.3.1), so no case gets a third try.
            except (aiohttp.ClientConnectorError, aiohttp.ClientResponseError) as exc:
                log.info("retrying %s %s once: %s", method, url.split("?", 1)[0], _reason(exc))
        return await attempt()


async def forward(
    request: Request,
    http: aiohttp.ClientSession,
    *,
    service: str,
    url: str,
    headers: list[tuple[bytes, bytes]],
    deadline: float,
    base: str,
    prefix: str,
) -> Response:
    """Send the request to `url` and relay the answer; transport failures become JSON errors.

    `base` is the upstream's base URL and `prefix` the public path it is routed under: the
    locations it answers with are rewritten from the one to the other.
    """
    body = await request.body()
    outgoing = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in headers]
    # One budget for the whole exchange, retry and buffered body included.
    expires_at = asyncio.get_running_loop().time() + deadline
    try:
        upstream = await _send(http, request.method, url, outgoing, body or None, expires_at)
    # Before TimeoutError: no free connection, or none made in time, is a connect timeout.
    except aiohttp.ConnectionTimeoutError as exc:
        return _failed(service, url, 503, f"{service} is unavailable", exc)
    except TimeoutError as exc:
        return _failed(service, url, 504, f"{service} did not answer within {deadline:g}s", exc)
    except aiohttp.ClientConnectorError as exc:
        return _failed(service, url, 503, f"{service} is unavailable", exc)
    except aiohttp.ClientError as exc:
        return _failed(service, url, 502, f"{service} sent an invalid or broken response", exc)
    try:
        return await _relay(request, upstream, service, expires_at, (base, prefix))
    except TimeoutError:
        return _failed(service, url, 504, f"{service} did not answer within {deadline:g}s", None)


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _failed(
    service: str, url: str, status: int, detail: str, exc: Exception | None
) -> JSONResponse:
    reason = _reason(exc) if exc else "deadline exceeded"
    # The path only: a query string may carry what should not be in logs.
    log.warning("upstream %s failed (%s): %s", service, url.split("?", 1)[0], reason)
    return JSONResponse({"detail": detail, "service": service}, status_code=status)


async def _relay(
    request: Request,
    upstream: aiohttp.ClientResponse,
    service: str,
    expires_at: float,
    route: tuple[str, str],
) -> Response:
    """Relay the upstream response as received (still encoded, so content-length holds)."""
    raw = upstream.raw_headers
    drop = DROP_FROM_UPSTREAM | _connection_tokens(raw)
    headers = [(n.lower(), v) for n, v in raw if n.lower() not in drop]
    headers = rewrite_locations(headers, *route)
    declared = upstream.headers.get("content-length", "")
    small = declared.isdigit() and int(declared) <= BUFFER_LIMIT
    if small or request.method == "HEAD" or upstream.status in (204, 304):
        try:
            async with asyncio.timeout_at(expires_at):
                content = await upstream.read()
        except TimeoutError as exc:
            return _failed(service, str(upstream.url), 504, f"{service} answered too slowly", exc)
        except aiohttp.ClientError as exc:
            return _failed(service, str(upstream.url), 502, f"{service} broke off its answer", exc)
        finally:
            upstream.release()
        response: Response = Response(content, status_code=upstream.status)
    else:
        response = StreamingResponse(_stream(upstream, service), status_code=upstream.status)
    # Raw list, not a dict: repeated headers such as Set-Cookie must all survive.
    response.raw_headers = headers
    return response


async def _stream(upstream: aiohttp.ClientResponse, service: str) -> AsyncIterator[bytes]:
    """Pass body chunks through as they come; the connection goes back to the pool when the
    body is done, and is closed when the client left before it was (never reused half-read)."""
    try:
        async for chunk in upstream.content.iter_any():
            yield chunk
    except (aiohttp.ClientError, TimeoutError) as exc:
        # The status line is gone already; aborting the connection is the only honest signal.
        log.warning("upstream %s broke off a streamed response: %s", service, _reason(exc))
        raise
    finally:
        if upstream.content.at_eof():
            upstream.release()
        else:
            upstream.close()
