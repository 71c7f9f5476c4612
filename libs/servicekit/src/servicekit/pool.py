"""The CPU pool: threads that run a service's computations off the event loop.

numpy, pandas, TA-Lib, scikit-learn, xgboost and torch release the GIL in their heavy parts, so
a thread pool runs them in parallel while the event loop keeps answering (/health included).
The image sets OMP_NUM_THREADS to the catalog's `threads`: `ThreadsSettings` reads it, so one
variable sizes both the BLAS/OpenMP pools and the service's own.
"""

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from pydantic import AliasChoices, Field

from servicekit.settings import ServiceSettings

T = TypeVar("T")


class ThreadsSettings(ServiceSettings):
    """THREADS, read from OMP_NUM_THREADS (which the image sets) or THREADS."""

    threads: int = Field(
        default=4, ge=1, le=64, validation_alias=AliasChoices("omp_num_threads", "threads")
    )


class CpuPool(ThreadPoolExecutor):
    """A thread pool with an awaitable `run`; made in the lifespan, closed at shutdown."""

    def __init__(self, threads: int, name: str) -> None:
        super().__init__(max_workers=threads, thread_name_prefix=name)

    async def run(self, fn: Callable[..., T], *args, **kwargs) -> T:
        """`fn(*args, **kwargs)` in the pool, never on the event loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self, functools.partial(fn, *args, **kwargs))

    def close(self) -> None:
        """Running work finishes (its result is dropped); queued work is cancelled."""
        self.shutdown(wait=True, cancel_futures=True)
