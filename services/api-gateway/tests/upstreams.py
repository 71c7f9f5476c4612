"""Real upstream servers for the tests: small ASGI apps served by uvicorn on loopback ports."""

import asyncio
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

import anyio
import uvicorn
from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse, RedirectResponse, Response, StreamingResponse

ALL_METHODS = ["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"]
BIG_CHUNK = b"0123456789abcdef" * 4096  # 64 KiB
BIG_CHUNKS = 20  # 1.25 MiB in all: past the gateway's buffering limit, so it streams
# How each WebSocket the echo upstream served was closed by its peer, keyed by the `id` query
# parameter the test chose: (code, reason).
WS_CLOSES: dict[str, tuple[int, str]] = {}
# Server-sent event streams of the echo upstream, keyed by the `id` query parameter: the test
# sets `release` to let a stream go on past its first event; `ended` says how it ended
# ("finished", or "closed" when its client went away first).
EVENT_STREAMS: dict[str, dict] = {}


def echo_app() -> FastAPI:
    """Answers every request with what it received, as JSON."""
    app = FastAPI()

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/status/{code}")
    async def status(code: int) -> Response:
        return JSONResponse({"status": code}, status_code=code)

    @app.get("/cookies")
    async def cookies() -> Response:
        response = JSONResponse({"ok": True})
        response.set_cookie("a", "1")
        response.set_cookie("b", "2")
        return response

    @app.get("/big")
    async def big() -> StreamingResponse:
        async def chunks():
            for _ in range(BIG_CHUNKS):
                yield BIG_CHUNK

        return StreamingResponse(chunks(), media_type="application/octet-stream")

    @app.get("/events")
    async def events(id: str) -> StreamingResponse:
        """One event, then (once the test releases it) two more, as an LLM stream would."""
        state = EVENT_STREAMS.setdefault(id, {"release": threading.Event(), "ended": None})

        async def stream():
            try:
                yield b"data: first\n\n"
                # Abandoned (not awaited) when the client leaves, so the stream can close.
                await anyio.to_thread.run_sync(state["release"].wait, abandon_on_cancel=True)
                yield b"data: second\n\n"
                yield b"data: [DONE]\n\n"
                state["ended"] = "finished"
            finally:
                state["ended"] = state["ended"] or "closed"

        return StreamingResponse(stream(), media_type="text/event-stream")

    @app.get("/trickle")
    async def trickle(seconds: float, step: float = 0.1) -> StreamingResponse:
        """A declared body sent one byte per `step` for `seconds`: never idle, just slow."""
        count = max(1, int(seconds / step))

        async def drip():
            for _ in range(count):
                yield b" "
                await asyncio.sleep(step)

        return StreamingResponse(drip(), headers={"content-length": str(count)})

    @app.websocket("/ws/echo")
    async def ws_echo(websocket: WebSocket) -> None:
        """Describe the handshake it saw, then echo; `close <code> <reason>` makes it close."""
        offered = websocket.scope.get("subprotocols") or []
        await websocket.accept(subprotocol=offered[0] if offered else None)
        await websocket.send_json(
            {
                "path": websocket.url.path,
                "query": websocket.scope["query_string"].decode("latin-1"),
                "headers": [
                    [k.decode("latin-1"), v.decode("latin-1")] for k, v in websocket.headers.raw
                ],
            }
        )
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                case = websocket.query_params.get("id")
                if case:
                    WS_CLOSES[case] = (message.get("code", 1005), message.get("reason") or "")
                return
            text = message.get("text")
            if text is not None and text.startswith("close "):
                _, code, reason = text.split(" ", 2)
                await websocket.close(int(code), reason)
                return
            if text is not None:
                await websocket.send_text(text)
            else:
                await websocket.send_bytes(message.get("bytes") or b"")

    @app.websocket("/ws/size/{size}")
    async def ws_size(websocket: WebSocket, size: int) -> None:
        """Send one binary message of `size` bytes, then wait for the peer to close."""
        await websocket.accept()
        await websocket.send_bytes(b"s" * size)
        try:
            while True:
                await websocket.receive_bytes()
        except WebSocketDisconnect:
            return

    @app.websocket("/ws/deny")
    async def ws_deny(websocket: WebSocket) -> None:
        """Refuse the handshake with an HTTP answer of its own."""
        await websocket.send_denial_response(
            JSONResponse({"detail": "no socket here"}, status_code=404)
        )

    @app.api_route("/{path:path}", methods=ALL_METHODS)
    async def echo(request: Request, path: str) -> Response:
        body = await request.body()
        return JSONResponse(
            {
                "method": request.method,
                "path": request.url.path,
                "raw_path": request.scope["raw_path"].decode("latin-1"),
                "query": request.scope["query_string"].decode("latin-1"),
                "headers": [
                    [k.decode("latin-1"), v.decode("latin-1")] for k, v in request.headers.raw
                ],
                "body": body.decode("latin-1"),
            }
        )

    return app


def models_app() -> FastAPI:
    """Real routes and nothing else, so a trailing slash gets FastAPI's own redirect: to an
    absolute URL made of the Host header the gateway sent (the upstream's own address)."""
    app = FastAPI()

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/models")
    async def models(request: Request) -> dict:
        return {"models": [], "query": request.scope["query_string"].decode("latin-1")}

    @app.get("/auth/me")
    async def me() -> dict[str, str]:
        return {"path": "/auth/me"}

    @app.get("/moved")
    async def moved() -> Response:
        # Path-absolute: a client resolves it against the gateway, where /models is not routed.
        return RedirectResponse("/models?from=moved", status_code=308)

    @app.post("/jobs")
    async def create_job() -> Response:
        return JSONResponse({"id": 7}, status_code=202, headers={"Location": "/jobs/7"})

    @app.get("/elsewhere")
    async def elsewhere() -> Response:
        return RedirectResponse("https://example.org/docs", status_code=302)

    return app


def slow_app(delay: float) -> FastAPI:
    """Takes `delay` seconds to answer anything but /health."""
    app = FastAPI()

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.api_route("/{path:path}", methods=ALL_METHODS)
    async def slow(path: str) -> dict[str, str]:
        await asyncio.sleep(delay)
        return {"late": path}

    return app


def _listening_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextmanager
def serve(app: FastAPI, lifespan: str = "off") -> Iterator[str]:
    """Serve `app` on a free loopback port in a background thread; yields its base URL."""
    sock = _listening_socket()
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        lifespan=lifespan,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=1,
        # The peer address is the socket's: tests choose what X-Forwarded-For says upstream.
        proxy_headers=False,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("upstream test server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=5)
        sock.close()


@contextmanager
def _raw_server(answer: Callable[[socket.socket, bytes], None]) -> Iterator[str]:
    """A TCP server on a free loopback port: each connection's first read goes to
    `answer(conn, request)`, then the connection is closed. Yields its URL."""
    sock = _listening_socket()
    sock.listen()
    sock.settimeout(0.2)
    stop = threading.Event()

    def run() -> None:
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(1)
                with suppress(OSError):
                    answer(conn, conn.recv(65536))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=2)
        sock.close()


@contextmanager
def garbage_server() -> Iterator[tuple[str, list[int]]]:
    """A TCP server that answers every connection with bytes that are not HTTP, then closes.

    Yields its URL and a one-item list counting the connections it accepted for anything but
    GET /health.
    """
    accepted = [0]

    def answer(conn: socket.socket, request: bytes) -> None:
        # The gateway's background health checks probe every upstream; only the requests it
        # forwards count.
        if not request.startswith(b"GET /health"):
            accepted[0] += 1
        conn.sendall(b"this is not http\r\n\r\n")

    with _raw_server(answer) as url:
        yield url, accepted


@contextmanager
def resetting_server() -> Iterator[tuple[str, dict[str, int]]]:
    """A TCP server that resets the first connection asking for a path once the request is
    read (as a replica going away under a rolling update does to a pooled connection), and
    answers 200 to the next ones.

    Yields its URL and a dict counting the connections per path (GET /health not counted).
    """
    seen: dict[str, int] = {}
    ok = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"

    def answer(conn: socket.socket, request: bytes) -> None:
        method, path, *_ = [*request.split(b"\r\n", 1)[0].decode("latin-1").split(" "), "", ""]
        if method == "GET" and path.startswith("/health"):
            conn.sendall(ok)
            return
        seen[path] = seen.get(path, 0) + 1
        if seen[path] == 1:
            # Linger 0: close() sends RST, so the caller's read fails with a reset.
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        else:
            conn.sendall(ok)

    with _raw_server(answer) as url:
        yield url, seen


@contextmanager
def dead_url() -> Iterator[str]:
    """A loopback URL where nothing listens: connections are refused.

    The port stays bound (without listening) so no other process can take it meanwhile.
    """
    sock = _listening_socket()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()


@contextmanager
def silent_url() -> Iterator[str]:
    """A loopback URL that accepts connections (the kernel does) but never answers."""
    sock = _listening_socket()
    sock.listen(64)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()
