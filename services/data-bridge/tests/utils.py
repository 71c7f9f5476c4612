"""Test helpers: the app served in-process on 127.0.0.1, a reverse proxy to database-service
that can be switched off, unique names, polling."""

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable

import uvicorn
from fastapi import FastAPI

from app.core.bridge import Bridge
from app.core.config import Settings


def unique_symbol(prefix: str = "T") -> str:
    """A symbol no other test (or earlier run against the same storage) used."""
    return f"{prefix}{uuid.uuid4().hex[:10]}".upper()[:16]


async def eventually(
    check: Callable[[], Awaitable[bool]], within: float = 30, every: float = 0.05
) -> None:
    """Poll until `check()` is true; fail after `within` seconds (a bound on a hang, not a
    performance assertion)."""
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within}s")
        await asyncio.sleep(every)


class RunningBridge:
    """data-bridge built from `settings`, served by uvicorn on a free port of 127.0.0.1."""

    def __init__(self, settings: Settings) -> None:
        # Imported here: app.main builds the environment's app on import, which needs the
        # integration tests' environment; the pure-logic tests must import without it.
        from app.main import build_app

        self.settings = settings
        self.app: FastAPI = build_app(settings)
        self.bridge: Bridge = self.app.state.bridge
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=0, log_level="warning", lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self._task: asyncio.Task | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    async def start(self) -> "RunningBridge":
        self._task = asyncio.create_task(self.server.serve())
        deadline = time.monotonic() + 60
        while not self.server.started:
            if self._task.done():
                self._task.result()  # raises what stopped the start-up
                raise RuntimeError("uvicorn exited during start-up")
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start within 60 s")
            await asyncio.sleep(0.01)
        self.port = self.server.servers[0].sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        """Graceful shutdown: what the lifespan does on SIGTERM (flush, then spool)."""
        if self._task is not None:
            self.server.should_exit = True
            await self._task
            self._task = None


# The proxy's modes that answer every request themselves, with this status line.
ANSWERS = {"503": "503 Service Unavailable", "500": "500 Internal Server Error"}


class SwitchableProxy:
    """A TCP reverse proxy on 127.0.0.1 to `target_host:target_port`.

    `mode` "up" relays bytes; "refuse" drops every connection at once (like a crashed peer);
    "503" answers every request with 503 (like database-service with ClickHouse away), "500"
    with 500 (like database-service breaking on what it is sent);
    "lose_answers" relays requests but drops the answers (the caller cannot know whether its
    request took effect). Switching away from "up" cuts the connections in progress.
    """

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.mode = "up"
        self.port = 0
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> "SwitchableProxy":
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def switch(self, mode: str) -> None:
        self.mode = mode
        if mode != "up":
            for writer in list(self._open):
                writer.close()

    async def stop(self) -> None:
        self.switch("refuse")
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        if self.mode == "refuse":
            writer.close()
            return
        if self.mode in ANSWERS:
            with contextlib.suppress(ConnectionError):
                await reader.readuntil(b"\r\n\r\n")
                writer.write(
                    f"HTTP/1.1 {ANSWERS[self.mode]}\r\ncontent-type: application/json\r\n".encode()
                    + b"content-length: 26\r\nconnection: close\r\n\r\n"
                    + b'{"detail":"proxy says no"}'
                )
                await writer.drain()
            writer.close()
            return
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._open.update((writer, upstream_writer))
        try:
            await asyncio.gather(
                self._pipe(reader, upstream_writer),
                self._pipe(upstream_reader, writer, answers=True),
            )
        finally:
            self._open.difference_update((writer, upstream_writer))
            writer.close()
            upstream_writer.close()

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, answers: bool = False
    ) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(65536):
                if (
                    self.mode == "refuse"
                    or self.mode in ANSWERS
                    or (answers and self.mode == "lose_answers")
                ):
                    break
                writer.write(data)
                await writer.drain()
        writer.close()
