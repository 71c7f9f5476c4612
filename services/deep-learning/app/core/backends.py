"""What deep-learning holds for its lifetime: database-service, the CPU pool, the checkpoint
store, the trainer and the embedding model."""

import asyncio
import logging
import os
from pathlib import Path

from app.core.config import Settings
from app.core.runtime import Runtime
from app.embeddings import Embedder
from app.forecasting.checkpoints import CheckpointStore
from app.forecasting.jobs import Trainer
from app.market import Closes, parse_closes
from servicekit.database import check_database, database_client
from servicekit.http import ServiceClient
from servicekit.market import fetch_candles
from servicekit.pool import CpuPool

log = logging.getLogger("deep-learning.backends")


class Backends:
    """Opened by the lifespan (inside the serving event loop), closed at shutdown."""

    db: ServiceClient
    pool: CpuPool

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
        # Forecasts, embeddings and checkpoint scans run there (`pool.run`), off the event loop.
        self.pool = CpuPool(s.pool_threads, "dl-cpu")
        self.db = database_client(s)
        if s.embedding_preload:
            self.embedder.start()
        found = await self.pool.run(self.store.scan)
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
        self.pool.close()

    async def closes(self, symbol: str, interval: str, limit: int) -> Closes:
        """The latest `limit` stored closes; NoCandles when there are none."""
        content = await fetch_candles(self.db, symbol, interval, limit)
        return await self.pool.run(parse_closes, symbol, interval, content)

    async def check_database(self) -> str | None:
        """Health: database-service is up and serves us candles with our internal token."""
        return await check_database(self.db)

    async def check_checkpoints(self) -> str | None:
        """Health: CHECKPOINT_DIR exists and is writable (else training cannot save)."""
        directory = self.settings.checkpoint_dir
        writable = await asyncio.to_thread(_writable, directory)
        if not writable:
            raise RuntimeError(f"{directory} is not a writable directory")
        return None


def _writable(directory: Path) -> bool:
    return directory.is_dir() and os.access(directory, os.W_OK | os.X_OK)
