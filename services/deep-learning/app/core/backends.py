"""What deep-learning holds for its lifetime: database-service, the CPU pool, the checkpoint
store, the trainer and the embedding model."""

import asyncio
import functools
import logging
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from app.core.config import Settings
from app.core.runtime import Runtime
from app.embeddings import Embedder
from app.forecasting.checkpoints import CheckpointStore
from app.forecasting.jobs import Trainer
from app.market import Closes, fetch_candles, parse_closes
from servicekit.http import ServiceClient

log = logging.getLogger("deep-learning.backends")

T = TypeVar("T")


class Backends:
    """Opened by the lifespan (inside the serving event loop), closed at shutdown."""

    db: ServiceClient
    pool: ThreadPoolExecutor

    def __init__(self, settings: Settings, runtime: Runtime) -> None:
        self.settings = settings
        self.runtime = runtime
        self.store = CheckpointStore(
            settings.checkpoint_dir, runtime.device, settings.loaded_forecasters
        )
        self.trainer = Trainer(self.store, runtime.device, settings.jobs_kept)
        self.embedder = Embedder(runtime.device, settings.embedding_batch_size)

    async def open(self) -> None:
        """Find the checkpoints, start loading the embedding model, create clients and pool."""
        s = self.settings
        self.pool = ThreadPoolExecutor(max_workers=s.pool_threads, thread_name_prefix="dl-cpu")
        self.db = ServiceClient(
            s.database_service_url, timeout=s.database_timeout, internal_token=s.internal_token
        )
        if s.embedding_preload:
            self.embedder.start()
        found = await self.run(self.store.scan)
        log.info(
            "%d forecaster checkpoints in %s; torch on %s with %d threads",
            found,
            s.checkpoint_dir,
            self.runtime.device,
            self.runtime.threads,
        )

    async def close(self) -> None:
        await self.db.aclose()
        # A running training stops at its next epoch (unsaved); then the pools wind down.
        await asyncio.to_thread(self.trainer.close)
        self.pool.shutdown(wait=True, cancel_futures=True)

    async def run(self, fn: Callable[..., T], *args, **kwargs) -> T:
        """Run CPU work in the pool, never on the event loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.pool, functools.partial(fn, *args, **kwargs))

    async def closes(self, symbol: str, interval: str, limit: int) -> Closes:
        """The latest `limit` stored closes; NoCandles when there are none."""
        content = await fetch_candles(self.db, symbol, interval, limit)
        return await self.run(parse_closes, symbol, interval, content)

    async def check_database(self) -> str | None:
        """Health: database-service is up and serves us candles with our internal token."""
        response = await self.db.get("/health")
        try:
            status = response.json().get("status")
        except (ValueError, AttributeError):
            status = None
        if response.status_code != 200 or status not in ("ok", "degraded"):
            raise RuntimeError(f"database-service /health answered {response.status_code} {status}")
        probe = await self.db.get(
            "/market/candles", params={"symbol": "HEALTH-PROBE", "interval": "1m", "limit": 1}
        )
        if probe.status_code in (401, 403):
            raise RuntimeError("database-service rejects our INTERNAL_TOKEN")
        if probe.status_code != 200:
            return f"database-service GET /market/candles answered {probe.status_code}"
        if status == "degraded":
            return "database-service reports degraded"
        return None

    async def check_checkpoints(self) -> str | None:
        """Health: CHECKPOINT_DIR exists and is writable (else training cannot save)."""
        directory = self.settings.checkpoint_dir
        writable = await asyncio.to_thread(_writable, directory)
        if not writable:
            raise RuntimeError(f"{directory} is not a writable directory")
        return None


def _writable(directory: Path) -> bool:
    return directory.is_dir() and os.access(directory, os.W_OK | os.X_OK)
