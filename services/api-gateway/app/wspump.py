"""Pumping frames both ways between an accepted client WebSocket and its upstream.

One task per direction and one re-checking the session; the first to finish says how the
relay ended (a `Closure`), the others are cancelled and both ends are closed accordingly: a
close from one side reaches the other with its code and reason, an end the gateway decides
(session revoked, message too big) reaches both.
"""

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError
from starlette.websockets import WebSocket, WebSocketDisconnect
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed
from websockets.frames import EXTERNAL_CLOSE_CODES, CloseCode

from app.core.config import Settings
from app.core.security import Identity, session_key

log = logging.getLogger("app.wspump")

CLIENT, UPSTREAM, GATEWAY = "client", "upstream", "gateway"
# A close reason shares a control frame (125 bytes) with the 2-byte code.
MAX_REASON_BYTES = 123
# After a send to the client fails, how long the reader may take to deliver the client's close
# frame (it carries the code the upstream should see) before the loss is reported as such.
CLIENT_CLOSE_GRACE = 1.0


@dataclass(frozen=True)
class Closure:
    """How a relay ended: which side ended it, with which close code and reason."""

    by: str
    code: int
    reason: str = ""


def clip(reason: str) -> str:
    """`reason` cut to what a close frame can carry, on a character boundary."""
    encoded = reason.encode()
    if len(encoded) <= MAX_REASON_BYTES:
        return reason
    return encoded[:MAX_REASON_BYTES].decode(errors="ignore")


def sendable(code: int, fallback: int) -> int:
    """`code` if a close frame may carry it (1005, 1006 and 1015 only describe), else `fallback`."""
    return code if code in EXTERNAL_CLOSE_CODES or 3000 <= code < 5000 else fallback


def _too_big(data: str | bytes, limit: int) -> bool:
    if isinstance(data, str):
        # A character is at most 4 UTF-8 bytes: most texts are judged without encoding them.
        return len(data) * 4 > limit and len(data.encode()) > limit
    return len(data) > limit


def _upstream_closure(exc: ConnectionClosed, service: str) -> Closure:
    if exc.rcvd is not None:
        # 1005 means the upstream gave no code; the client then sees a plain normal closure.
        return Closure(UPSTREAM, sendable(exc.rcvd.code, CloseCode.NORMAL_CLOSURE), exc.rcvd.reason)
    if exc.sent is not None and exc.sent.code == CloseCode.MESSAGE_TOO_BIG:
        return Closure(UPSTREAM, CloseCode.MESSAGE_TOO_BIG, f"{service} sent a message too big")
    # Dropped, timed out on pings or broke the protocol: a gateway's failure to the client.
    return Closure(UPSTREAM, CloseCode.BAD_GATEWAY, f"{service} connection lost")


async def _client_to_upstream(
    websocket: WebSocket, upstream: ClientConnection, limit: int, service: str
) -> Closure:
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return Closure(
                CLIENT, message.get("code", CloseCode.NO_STATUS_RCVD), message.get("reason") or ""
            )
        text = message.get("text")
        data = text if text is not None else message.get("bytes") or b""
        if _too_big(data, limit):
            return Closure(GATEWAY, CloseCode.MESSAGE_TOO_BIG, f"message larger than {limit} bytes")
        try:
            await upstream.send(data)
        except ConnectionClosed as exc:
            return _upstream_closure(exc, service)


async def _upstream_to_client(
    websocket: WebSocket, upstream: ClientConnection, service: str
) -> Closure:
    while True:
        try:
            data = await upstream.recv()
        except ConnectionClosed as exc:
            return _upstream_closure(exc, service)
        try:
            if isinstance(data, str):
                await websocket.send_text(data)
            else:
                await websocket.send_bytes(data)
        except (WebSocketDisconnect, OSError):
            # Usually the client's close frame is already queued for the other pump to read.
            await asyncio.sleep(CLIENT_CLOSE_GRACE)
            return Closure(CLIENT, CloseCode.ABNORMAL_CLOSURE, "client connection lost")


async def watch_session(redis: Redis, session_id: str, interval: float) -> Closure:
    """End the relay once the session is gone (logout), checked every `interval` seconds."""
    key = session_key(session_id)
    while True:
        await asyncio.sleep(interval)
        try:
            alive = await redis.exists(key)
        except (RedisError, OSError) as exc:
            # Fail closed, as the HTTP routes do: without the store a logout would go unnoticed.
            log.warning("session re-check failed: %s: %s", type(exc).__name__, exc)
            return Closure(GATEWAY, CloseCode.TRY_AGAIN_LATER, "session store unavailable")
        if not alive:
            return Closure(GATEWAY, CloseCode.POLICY_VIOLATION, "session revoked")


async def close_client(websocket: WebSocket, code: int, reason: str) -> None:
    """Close the client's socket unless it is gone already."""
    # Disconnected meanwhile: nothing is left to tell it.
    with contextlib.suppress(WebSocketDisconnect, OSError, RuntimeError):
        await websocket.close(code, clip(reason))


async def pump(
    websocket: WebSocket,
    upstream: ClientConnection,
    redis: Redis,
    settings: Settings,
    service: str,
    identity: Identity,
) -> Closure:
    """Relay frames until one side closes or the gateway ends it; close the other side(s)."""
    limit = settings.ws_max_message_bytes
    # Listed in order of precedence when several finish at once: the client's own close first.
    tasks = [
        asyncio.create_task(_client_to_upstream(websocket, upstream, limit, service)),
        asyncio.create_task(_upstream_to_client(websocket, upstream, service)),
        asyncio.create_task(
            watch_session(redis, identity.session_id, settings.ws_session_check_seconds)
        ),
    ]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    first = next(task for task in tasks if task in done)
    if (error := first.exception()) is not None:
        log.error("WebSocket relay to %s failed", service, exc_info=error)
        closure = Closure(GATEWAY, CloseCode.INTERNAL_ERROR, "gateway error")
    else:
        closure = first.result()
    if closure.by != CLIENT:
        await close_client(websocket, closure.code, closure.reason)
    if closure.by != UPSTREAM:
        # A client that gave no code closed normally; one that vanished or was ended went away.
        fallback = (
            CloseCode.NORMAL_CLOSURE
            if closure.code == CloseCode.NO_STATUS_RCVD
            else CloseCode.GOING_AWAY
        )
        code = sendable(closure.code, fallback) if closure.by == CLIENT else CloseCode.GOING_AWAY
        await upstream.close(code, clip(closure.reason))
    return closure
