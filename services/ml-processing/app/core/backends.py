"""What ml-processing holds for its lifetime: database-service, the CPU pool, the registry,
the prediction cache and the training jobs."""

import asyncio
import functools
import logging
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from app import features, training
from app.cache import PredictionCache
from app.core.config import Settings
from app.jobs import Job, Jobs
from app.learners import Params
from app.market import Candles, fetch_candles, parse_candles
from app.registry import NoActiveModel, Registry
from servicekit.http import ServiceClient

log = logging.getLogger("ml-processing.backends")

T = TypeVar("T")


class Backends:
    """Opened by the lifespan (inside the serving event loop), closed at shutdown."""

    db: ServiceClient
    pool: ThreadPoolExecutor

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
        self.db = ServiceClient(
            s.database_service_url, timeout=s.database_timeout, internal_token=s.internal_token
        )
        self.pool = ThreadPoolExecutor(max_workers=s.threads, thread_name_prefix="ml-cpu")
        self._training_slots = asyncio.Semaphore(s.concurrent_trainings)
        await self.run(self.registry.open)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.db.aclose()
        # A running fit finishes (its result is dropped); queued work is cancelled.
        self.pool.shutdown(wait=True, cancel_futures=True)

    async def run(self, fn: Callable[..., T], *args, **kwargs) -> T:
        """Run CPU or disk work in the pool, never on the event loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.pool, functools.partial(fn, *args, **kwargs))

    async def candles(self, symbol: str, interval: str, limit: int) -> Candles:
        """The latest `limit` stored candles; NoCandles when there are none."""
        content = await fetch_candles(self.db, symbol, interval, limit)
        return await self.run(parse_candles, symbol, interval, content)

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
                trained = await self.run(
                    training.fit_and_score, data, job.kind, params, self.settings.threads
                )
                meta = await self.run(self.registry.save, trained, job.kind, features.FEATURES)
                if job.promote:
                    await self.run(self.registry.promote, meta["version"])
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

    async def check_model_dir(self) -> str | None:
        """Health: a file can be created in MODEL_DIR (where trained versions are saved)."""

        def probe() -> None:
            with tempfile.NamedTemporaryFile(dir=self.registry.root, prefix=".health-"):
                pass

        await self.run(probe)
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
