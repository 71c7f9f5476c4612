"""Waiting for a backend that is still starting: exponential backoff with a deadline."""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")
log = logging.getLogger("servicekit.retry")


async def with_backoff(
    what: str,
    operation: Callable[[], Awaitable[T]],
    *,
    deadline: float = 60.0,
    initial: float = 0.2,
    maximum: float = 3.0,
) -> T:
    """Call `operation` until it succeeds or `deadline` seconds pass, then raise its last error.

    Used at start-up, when compose may start a service a moment before its database answers.
    """
    started = time.monotonic()
    delay = initial
    attempt = 0
    while True:
        attempt += 1
        try:
            return await operation()
        except Exception as exc:
            elapsed = time.monotonic() - started
            if elapsed + delay > deadline:
                raise
            log.warning(
                "%s not ready (attempt %d, %.1fs): %s; retrying in %.1fs",
                what,
                attempt,
                elapsed,
                exc,
                delay,
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, maximum)
