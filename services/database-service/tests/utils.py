"""Helpers shared by the tests: unique users, symbols and tick batches, free ports, async
runners, a switchable TCP relay."""

import asyncio
import contextlib
import socket
import threading
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import asyncpg

import servicekit_testing as testing
from app.core.config import Settings

T = TypeVar("T")
# Free ports and relays live on this machine: tests that use them point the app here.
LOOPBACK = "127.0.0.1"


def new_user(**overrides: str) -> dict[str, str]:
    """A create body nobody else has used: random username and email."""
    tag = uuid.uuid4().hex[:16]
    body = {
        "username": f"t_{tag}",
        "email": f"t_{tag}@example.test",
        "password_hash": f"$2b$12${uuid.uuid4().hex}",
    }
    body.update(overrides)
    return body


# 2023-11-14T00:00:00Z in epoch ms: a UTC midnight, so aligned to every candle interval.
EPOCH_MS = 1_700_000_000_000 - 1_700_000_000_000 % 86_400_000


def new_symbol() -> str:
    """A market symbol nobody else has used (16 characters, the contract's maximum)."""
    return "T" + uuid.uuid4().hex[:15].upper()


def new_batch(
    symbols: list[str] | str, n: int = 10, start_ms: int = EPOCH_MS, **overrides: Any
) -> dict[str, Any]:
    """A POST /market/ticks body: ``n`` ticks 1 ms apart, round-robin over ``symbols``."""
    symbols = [symbols] if isinstance(symbols, str) else symbols
    ticks = [
        {
            "symbol": symbols[i % len(symbols)],
            "ts_ms": start_ms + i,
            "price": 100.0 + i / 100,
            "volume": float(i % 7),
        }
        for i in range(n)
    ]
    body: dict[str, Any] = {
        "batch_id": f"test:{uuid.uuid4().hex}",
        "source": f"test:{uuid.uuid4().hex[:12]}",
        "ticks": ticks,
    }
    body.update(overrides)
    return body


free_port = testing.closed_port


def run(coro_factory: Callable[[], Awaitable[T]]) -> T:
    """Run an async helper from a sync test."""

    async def main() -> T:
        return await coro_factory()

    return asyncio.run(main())


async def pg_connect(settings: Settings, **kwargs: Any) -> asyncpg.Connection:
    return await asyncpg.connect(
        host=settings.postgres_host,
        port=settings.postgres_port,
        user=settings.postgres_user,
        password=settings.postgres_password,
        database=settings.postgres_db,
        **kwargs,
    )


class TcpRelay:
    """Forwards a loopback port to a backend while open, so a test can make it come and go."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self._server: socket.socket | None = None
        self._sockets: list[socket.socket] = []

    def open(self) -> None:
        self._server = socket.create_server((LOOPBACK, self.port))
        threading.Thread(target=self._accept, args=(self._server,), daemon=True).start()

    def close(self) -> None:
        """Stop listening and cut every relayed connection, as a backend going away would."""
        for sock in [self._server, *self._sockets]:
            if sock is None:
                continue
            # shutdown() wakes threads blocked in accept()/recv(); close() alone may not.
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        self._server, self._sockets = None, []

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                downstream, _ = server.accept()
            except OSError:
                return  # closed
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                downstream.close()
                continue
            upstream.settimeout(None)
            self._sockets += [downstream, upstream]
            for a, b in ((downstream, upstream), (upstream, downstream)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
