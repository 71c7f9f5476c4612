"""What ml-processing holds for its lifetime: database-service, the CPU pool, the registry,
the prediction cache and the training jobs."""

import asyncio
import logging
import tempfile

from app import features, training
from app.cache import PredictionCache
from app.core.config import Settings
from app.jobs import Job, Jobs
from app.learners import Params
from app.registry import NoActiveModel, Registry
from servicekit.database import check_database, database_client
from servicekit.http import ServiceClient
from servicekit.market import Candles, fetch_candles, parse_candles
from servicekit.pool import CpuPool

log = logging.getLogger("ml-processing.backends")


class Backends:
    """Opened by the lifespan (inside the serving event loop), closed at shutdown."""

    db: ServiceClient
    pool: CpuPool

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.registry = Registry(settings.model_dir, settings.loaded_versions)
        self.cache = PredictionCache(settings.prediction_cache_size)
        self.jobs = Jobs(settings.max_pending_jobs, settings.job_history)
        self.predictions = 0
        self._tasks: set[asyncio.Task] = set()

    async def open(self) -> None:
        """Create the client and the pool, then load the registry from MODEL_DIR."""
        s = self.settings
        self.db = database_client(s)
        # CPU and disk work runs there (`pool.run`), never on the event loop.
        self.pool = CpuPool(s.threads, "ml-cpu")
        self._training_slots = asyncio.Semaphore(s.concurrent_trainings)
        await self.pool.run(self.registry.open)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.db.aclose()
        # A running fit finishes (its result is dropped); queued work is cancelled.
        self.pool.close()

    async def candles(self, symbol: str, interval: str, limit: int) -> Candles:
        """The latest `limit` stored candles; NoCandles when there are none."""
        content = await fetch_candles(self.db, symbol, interval, limit)
        return await self.pool.run(parse_candles, symbol, interval, content)

    # ---- training -------------------------------------------------------------------------

    def start_training(self, job: Job, data: training.Dataset, params: Params) -> None:
        """Train `job` in the background; its state tells how it went."""
        task = asyncio.create_task(self._train(job, data, params), name=f"train-{job.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _train(self, job: Job, data: training.Dataset, params: Params) -> None:
        try:
            async with self._training_slots:
                self.jobs.start(job)
                trained = await self.pool.run(
                    training.fit_and_score, data, job.kind, params, self.settings.threads
                )
                meta = await self.pool.run(self.registry.save, trained, job.kind, features.FEATURES)
                if job.promote:
                    await self.pool.run(self.registry.promote, meta["version"])
                self.jobs.succeed(job, meta["version"], meta["metrics"], job.promote)
                log.info("job %s trained version %s", job.id, meta["version"])
        except asyncio.CancelledError:
            self.jobs.fail(job, "cancelled: the service stopped before the job finished")
            raise
        except Exception as exc:
            log.exception("training job %s failed", job.id)
            self.jobs.fail(job, f"{type(exc).__name__}: {exc}"[:500])

    # ---- health ---------------------------------------------------------------------------

    async def check_database(self) -> str | None:
        """Health: database-service is up and serves us candles with our internal token."""
        return await check_database(self.db)

    async def check_model_dir(self) -> str | None:
        """Health: a file can be created in MODEL_DIR (where trained versions are saved)."""

        def probe() -> None:
            with tempfile.NamedTemporaryFile(dir=self.registry.root, prefix=".health-"):
                pass

        await self.pool.run(probe)
        return None

    def describe(self) -> dict:
        """The registry's state for /health: the active version and kind, how many versions."""
        active = self.registry.active
        return {
            "active_version": None if active is None else active.version,
            "active_kind": None if active is None else active.kind,
            "versions": len(self.registry.versions()),
        }

    async def check_models(self) -> str | None:
        """Health: a model is promoted (degraded, saying how to fix it, when none is)."""
        if self.registry.load_error:
            return self.registry.load_error
        if self.registry.active is None:
            return str(NoActiveModel())
        return None
