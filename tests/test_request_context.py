"""servicekit.middleware: a client that leaves before its request was read is not an error.

Load generators stopping, browsers navigating away and callers timing out all leave requests
whose body (or whose empty GET body) the app had not read yet: Starlette raises ClientDisconnect
from `request.body()`. Nothing can be answered any more; the access line says 499 (nginx's
"client closed request") and no traceback reaches the logs."""

import asyncio
import logging

from fastapi import APIRouter, Request

from servicekit.app import create_app
from servicekit.settings import ServiceSettings


def _app():
    router = APIRouter()

    @router.get("/read")
    @router.post("/read")
    async def read(request: Request) -> dict:
        return {"bytes": len(await request.body())}

    # internal=False: the public door (the gateway's case), no credential to present.
    settings = ServiceSettings(service_name="api-gateway", environment="test")
    return create_app(settings, routers=[router], internal=False)


async def _call_with_client_gone(app, method: str) -> list[dict]:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": "/read",
        "raw_path": b"/read",
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }

    async def receive() -> dict:
        return {"type": "http.disconnect"}

    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


def test_a_client_gone_before_its_body_was_read_is_no_error(caplog):
    app = _app()
    # create_app gives the root logger its own JSON handler alone; listen beside it.
    logging.getLogger().addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.INFO):
            for method in ("GET", "POST"):
                sent = asyncio.run(_call_with_client_gone(app, method))
                assert sent == []  # nobody to answer
    finally:
        logging.getLogger().removeHandler(caplog.handler)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]
    access = [r for r in caplog.records if r.name == "servicekit.access"]
    assert [r.fields["status"] for r in access] == [499, 499]
