"""ClickHouse over the native protocol: a small pool of synchronous clients run in threads.

clickhouse-driver is blocking and a ``Client`` must not be shared between threads, so each query
borrows a client from an asyncio queue, runs in a worker thread and gives the client back only
when that thread has finished, even if the awaiting coroutine was cancelled meanwhile (a health
check timing out, a client hanging up). The pool size therefore bounds the threads in use.

A ``Client`` connects on first use and reconnects after a failure by itself, so a ClickHouse that
was down at start-up is picked up later without a restart; the target database, and the tables
of ``schema`` (idempotent DDL), are created the first time a query reaches the server.

Failures that mean "ClickHouse cannot answer right now" (refused or lost connections, timeouts,
an overloaded server) surface as ``ClickHouseUnavailable``, which the API answers with 503 so the
caller retries; any other error (a bad query) propagates unchanged.
"""

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from clickhouse_driver import Client
from clickhouse_driver import errors as ch_errors

from app.core.config import Settings

log = logging.getLogger("app.clickhouse")
# The driver logs every failed connect as a warning with a full traceback: one per health check
# while ClickHouse is down. The failure already shows in /health and in the start-up retries.
logging.getLogger("clickhouse_driver.connection").setLevel(logging.ERROR)

# Server error codes that describe the server's state rather than the query: retrying later can
# succeed. (TIMEOUT_EXCEEDED, TOO_MANY_SIMULTANEOUS_QUERIES, SOCKET_TIMEOUT, NETWORK_ERROR,
# ABORTED, MEMORY_LIMIT_EXCEEDED, TABLE_IS_READ_ONLY, TOO_MANY_PARTS, ALL_CONNECTION_TRIES_FAILED,
# QUERY_WAS_CANCELLED.)
TRANSIENT_SERVER_CODES = frozenset({159, 202, 209, 210, 236, 241, 242, 252, 279, 394})


class ClickHouseUnavailable(RuntimeError):
    """ClickHouse could not run a query now (down, unreachable, overloaded): retry later."""


def is_transient(exc: BaseException) -> bool:
    """True for failures worth retrying: the connection, a timeout or the server's load."""
    if isinstance(exc, ch_errors.ServerException):
        return exc.code in TRANSIENT_SERVER_CODES
    return isinstance(
        exc,
        ch_errors.NetworkError
        | ch_errors.SocketTimeoutError
        | ch_errors.UnexpectedPacketFromServerError
        | EOFError
        | OSError
        | TimeoutError,
    )


class ClickHouse:
    """A bounded pool of ClickHouse clients usable from async code."""

    def __init__(self, settings: Settings, schema: Sequence[str] = ()) -> None:
        self.settings = settings
        self.database = settings.clickhouse_db
        self.schema = tuple(schema)
        self._idle: asyncio.Queue[Client] = asyncio.Queue()
        for _ in range(settings.clickhouse_pool_size):
            self._idle.put_nowait(self._client(self.database))
        self._database_ready = False
        self._ensuring: asyncio.Future[None] | None = None

    def _client(self, database: str) -> Client:
        s = self.settings
        return Client(
            s.clickhouse_host,
            port=s.clickhouse_port,
            user=s.clickhouse_user,
            password=s.clickhouse_password,
            database=database,
            client_name=s.service_name,
            connect_timeout=s.connect_timeout,
            send_receive_timeout=30,
            sync_request_timeout=5,
        )

    async def ensure_database(self) -> None:
        """Create the service's database and schema if missing (once per process)."""
        if self._database_ready:
            return
        # Concurrent callers share one attempt, so a slow server never gets a pile of them.
        if self._ensuring is None or self._ensuring.done():
            self._ensuring = asyncio.ensure_future(asyncio.to_thread(self._create_database))
            self._ensuring.add_done_callback(_retrieve)
        await asyncio.shield(self._ensuring)
        if not self._database_ready:
            self._database_ready = True
            log.info("clickhouse database %s ready", self.database)

    def _create_database(self) -> None:
        # Pool clients name the database in their handshake, which fails while it is missing;
        # a throwaway client on "default" creates it. Runs in a worker thread.
        bootstrap = self._client("default")
        try:
            bootstrap.execute(f"CREATE DATABASE IF NOT EXISTS `{self.database}`")
        finally:
            bootstrap.disconnect()
        if not self.schema:
            return
        # The schema is CREATE ... IF NOT EXISTS: replicas starting together may all run it.
        schema_client = self._client(self.database)
        try:
            for statement in self.schema:
                schema_client.execute(statement)
        finally:
            schema_client.disconnect()

    async def execute(self, query: str, params: Any = None, **options: Any) -> Any:
        """Run one query on a pooled client in a worker thread; returns the driver's result.

        ``options`` go to ``Client.execute`` (``columnar=True`` for column-wise inserts).
        Raises ClickHouseUnavailable when the failure is the server's state, not the query's.
        """
        try:
            await self.ensure_database()
            client = await self._idle.get()
            work = asyncio.ensure_future(
                asyncio.to_thread(client.execute, query, params, **options)
            )
            work.add_done_callback(lambda done: self._release(client, done))
            # Shielded: cancelling the caller must not hand the client back while its thread runs.
            return await asyncio.shield(work)
        except Exception as exc:
            if is_transient(exc):
                # A server error's text goes on with a stack trace: its first two lines suffice.
                reason = " ".join(str(exc).splitlines()[:2]) or type(exc).__name__
                raise ClickHouseUnavailable(reason) from exc
            raise

    def _release(self, client: Client, done: asyncio.Future) -> None:
        _retrieve(done)
        self._idle.put_nowait(client)

    async def check(self) -> str | None:
        """Ok when the server answers ``SELECT 1`` in the service's database; raises otherwise."""
        await self.execute("SELECT 1")
        return None

    async def close(self) -> None:
        """Disconnect the idle clients; one still busy in a thread is left to finish."""
        clients = [self._idle.get_nowait() for _ in range(self._idle.qsize())]
        await asyncio.gather(*(asyncio.to_thread(c.disconnect) for c in clients))


def _retrieve(done: asyncio.Future) -> None:
    """Mark a shielded future's error as seen: its awaiting caller may have been cancelled."""
    if not done.cancelled():
        done.exception()
