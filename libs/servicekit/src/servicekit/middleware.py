"""Pure ASGI middlewares: request ids, body size limit, one access-log line per request, and
quiet handling of a client that left before its request was read.

Written as raw ASGI instead of Starlette's BaseHTTPMiddleware: they sit on every request's hot
path, and raw ASGI adds no task or stream per request.
"""

import logging
import time
import uuid

import orjson
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from servicekit.logging import request_id_var

REQUEST_ID_HEADER = b"x-request-id"
# nginx's "client closed request": what the access line says when the client left first.
CLIENT_CLOSED = 499
log = logging.getLogger("servicekit.access")


class _BodyTooLarge(Exception):
    pass


async def send_json(send: Send, status: int, body: dict, headers: list | None = None) -> None:
    """Answer a request directly from middleware with a small JSON body."""
    payload = orjson.dumps(body)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


class RequestContextMiddleware:
    """Give each request an id (kept from X-Request-ID if the caller sent a sane one), echo it
    in the response, expose it to logs, refuse bodies over `max_body_bytes` with 413, and log
    one line per request with its status and duration."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        incoming = headers.get(REQUEST_ID_HEADER, b"").decode("latin-1")
        request_id = (
            incoming if 0 < len(incoming) <= 128 and incoming.isprintable() else uuid.uuid4().hex
        )
        token = request_id_var.set(request_id)
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status_holder = {"status": 0}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (REQUEST_ID_HEADER, request_id.encode()),
                ]
            await send(message)

        try:
            declared = headers.get(b"content-length")
            if declared is not None and (
                not declared.isdigit() or int(declared) > self.max_body_bytes
            ):
                await send_json(
                    send_with_id,
                    413,
                    {"detail": f"request body larger than {self.max_body_bytes} bytes"},
                )
                return
            received = 0

            async def limited_receive() -> Message:
                nonlocal received
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > self.max_body_bytes:
                        raise _BodyTooLarge
                return message

            try:
                await self.app(scope, limited_receive, send_with_id)
            except _BodyTooLarge:
                if status_holder["status"] == 0:
                    await send_json(
                        send_with_id,
                        413,
                        {"detail": f"request body larger than {self.max_body_bytes} bytes"},
                    )
            except ClientDisconnect:
                # The client left before its request was read (a load generator stopping, a
                # caller's timeout): nobody is left to answer, and nothing went wrong here.
                if status_holder["status"] == 0:
                    status_holder["status"] = CLIENT_CLOSED
        finally:
            path = scope.get("path", "")
            if not path.startswith("/health"):
                log.info(
                    "%s %s %s",
                    scope.get("method"),
                    path,
                    status_holder["status"],
                    extra={
                        "fields": {
                            "status": status_holder["status"],
                            "ms": round((time.perf_counter() - started) * 1000, 2),
                        }
                    },
                )
            request_id_var.reset(token)
