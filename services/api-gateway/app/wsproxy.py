"""Relaying one WebSocket between a client and an upstream service.

The upstream handshake comes first and the client's is accepted only once it succeeded, so
the subprotocol the upstream chose reaches the client and an upstream's refusal is relayed as
it was given. A gateway that cannot reach the upstream accepts and closes at once with a code
and reason, since a refused handshake tells a browser nothing. Once both ends are open, the
frames are pumped by `app.wspump`.
"""

import asyncio
import logging
import time

from redis.asyncio import Redis
from starlette.responses import Response
from starlette.websockets import WebSocket
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidHandshake, InvalidStatus
from websockets.frames import CloseCode

from app.core.config import Settings
from app.core.security import Identity
from app.proxy import forward_headers
from app.wspump import clip, close_client, pump
from servicekit.logging import request_id_var

log = logging.getLogger("app.wsproxy")

# The websockets client writes its own handshake headers; the client's copies would clash.
HANDSHAKE_HEADERS = frozenset(
    {
        b"sec-websocket-key",
        b"sec-websocket-version",
        b"sec-websocket-extensions",
        b"sec-websocket-protocol",
        b"sec-websocket-accept",
    }
)
# Messages read ahead from the upstream while the client is slow to take them: with the size
# limit this bounds what one socket can hold in the gateway.
UPSTREAM_QUEUE = 4
# Part of an upstream's refusal body relayed to the client; the rest is an upstream's business.
MAX_DENIAL_BODY = 64 * 1024
DENIAL_EXTENSION = "websocket.http.response"


def websocket_url(http_url: str) -> str:
    """The ws:// (or wss://) URL for an upstream's http:// (or https://) one."""
    return "ws" + http_url.removeprefix("http")


def _denial_close_code(status: int) -> int:
    """The close code standing for an HTTP refusal (the 4xxx range mirrors HTTP statuses)."""
    if status in (401, 403):
        return CloseCode.POLICY_VIOLATION
    if status in (429, 502, 503, 504):
        return CloseCode.TRY_AGAIN_LATER
    return 4000 + status if 400 <= status < 500 else CloseCode.INTERNAL_ERROR


async def refuse(websocket: WebSocket, response: Response, reason: str) -> None:
    """Refuse the handshake with `response` where the server can send one, else a close."""
    response.headers["x-request-id"] = request_id_var.get()
    try:
        if DENIAL_EXTENSION in websocket.scope.get("extensions", {}):
            await websocket.send_denial_response(response)
            # uvicorn's websockets-sansio protocol (0.54) only marks the handshake done when
            # it sees the connection lost; returning first makes it log a spurious "returned
            # without completing handshake" error (Kludex/uvicorn#3138). One turn of the loop
            # lets that callback run.
            await asyncio.sleep(0)
        else:
            # A close before accept reaches the client as a bare HTTP 403, code and reason lost.
            await websocket.close(_denial_close_code(response.status_code), clip(reason))
    except OSError:
        pass  # the client left while we decided


async def _open_upstream(
    websocket: WebSocket, url: str, identity: Identity, settings: Settings, client: str
) -> ClientConnection:
    headers = [
        (name.decode("latin-1"), value.decode("latin-1"))
        for name, value in forward_headers(websocket, identity, client, settings.internal_token)
        if name.lower() not in HANDSHAKE_HEADERS
    ]
    return await connect(
        url,
        additional_headers=headers,
        subprotocols=websocket.scope.get("subprotocols") or None,
        open_timeout=settings.upstream_timeout,
        close_timeout=settings.upstream_timeout,
        max_size=settings.ws_max_message_bytes,
        max_queue=UPSTREAM_QUEUE,
        # Loopback or LAN traffic: compressing it would only spend the gateway's CPU.
        compression=None,
        # The client's own User-Agent is among the forwarded headers.
        user_agent_header=None,
        # Internal traffic must not detour through a proxy named in the environment.
        proxy=None,
    )


def _relayed_denial(refusal: InvalidStatus) -> Response:
    """The upstream's refusal as the client's: its status, body (capped) and content type."""
    upstream = refusal.response
    media_type = upstream.headers.get("content-type")
    return Response(
        bytes(upstream.body or b"")[:MAX_DENIAL_BODY],
        status_code=upstream.status_code,
        media_type=media_type,
    )


async def relay(
    websocket: WebSocket,
    redis: Redis,
    settings: Settings,
    *,
    service: str,
    url: str,
    identity: Identity,
    client: str,
) -> None:
    """Open `url` (ws://) for `identity` at `client` (its address), accept the client and relay
    until either side ends."""
    started = time.monotonic()
    try:
        upstream = await _open_upstream(websocket, url, identity, settings, client)
    except InvalidStatus as exc:
        log.info(
            "%s refused the WebSocket %s: HTTP %d", service, _path(url), exc.response.status_code
        )
        await refuse(websocket, _relayed_denial(exc), f"{service} refused: {exc}")
        return
    except TimeoutError:
        timeout = settings.upstream_timeout
        await _unreachable(websocket, service, url, f"{service} did not answer within {timeout:g}s")
        return
    except OSError as exc:
        await _unreachable(websocket, service, url, f"{service} is unavailable", exc)
        return
    except InvalidHandshake as exc:
        reason = f"{service} sent an invalid handshake"
        await _unreachable(websocket, service, url, reason, exc, CloseCode.BAD_GATEWAY)
        return
    async with upstream:
        try:
            await websocket.accept(
                subprotocol=upstream.subprotocol,
                headers=[(b"x-request-id", request_id_var.get().encode("latin-1"))],
            )
        except OSError:
            return  # the client left while the upstream answered; leaving the block closes it
        closure = await pump(websocket, upstream, redis, settings, service, identity)
    log.info(
        "WebSocket %s %s closed by %s: %d %s",
        service,
        _path(url),
        closure.by,
        closure.code,
        closure.reason,
        extra={"fields": {"ms": round((time.monotonic() - started) * 1000, 2)}},
    )


async def _unreachable(
    websocket: WebSocket,
    service: str,
    url: str,
    reason: str,
    exc: Exception | None = None,
    code: int = CloseCode.TRY_AGAIN_LATER,
) -> None:
    """Accept only to close with `code` and `reason`: the one way a browser learns why."""
    detail = f"{type(exc).__name__}: {exc}" if exc else "handshake deadline exceeded"
    log.warning("upstream %s WebSocket failed (%s): %s", service, _path(url), detail)
    try:
        await websocket.accept(headers=[(b"x-request-id", request_id_var.get().encode("latin-1"))])
    except OSError:
        return
    await close_client(websocket, code, reason)


def _path(url: str) -> str:
    # The path only: a query string may carry what should not be in logs.
    return url.split("?", 1)[0]
