"""Training jobs: one at a time, in a dedicated worker thread; a second request gets 409.

Why no queue: a training holds every torch thread for seconds to minutes, so queued runs would
only wait in memory, invisible to the caller, and a restart would lose them. Refusing with the
running job's id lets the caller retry when GET /forecasters/jobs/{id} says it has finished.

A job is reserved before its candles are fetched (so two requests cannot both pass the busy
check), then either started or released: data problems answer the POST itself (404, 409,
503) and leave no job behind. Finished jobs are remembered (the last `jobs_kept`) in memory.
"""

import logging
import math
import threading
import time
import uuid
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from app.forecasting.checkpoints import CheckpointStore
from app.forecasting.model import ForecasterConfig
from app.forecasting.training import TrainingCancelled, train

log = logging.getLogger("deep-learning.jobs")


class TrainingBusy(Exception):
    """A training is already running; carries its job id."""

    def __init__(self, job_id: str) -> None:
        super().__init__(job_id)
        self.job_id = job_id


class UnknownJob(Exception):
    """No job has this id (or it is long finished and forgotten)."""


def _now_ms() -> int:
    return int(time.time() * 1000)


class Trainer:
    """Runs at most one training; keeps the state of recent jobs."""

    def __init__(self, store: CheckpointStore, device: torch.device, jobs_kept: int) -> None:
        self.store = store
        self.device = device
        self.jobs_kept = jobs_kept
        self._jobs: OrderedDict[str, dict] = OrderedDict()
        self._active: str | None = None
        self._lock = threading.Lock()
        self._cancels: dict[str, threading.Event] = {}
        self._closing = False
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dl-train")

    def reserve(self, symbol: str, interval: str, config: ForecasterConfig) -> str:
        """Claim the trainer for a new job (state `fetching`); TrainingBusy when taken."""
        with self._lock:
            if self._active is not None:
                raise TrainingBusy(self._active)
            if self._closing:
                raise RuntimeError("the service is shutting down")
            job_id = uuid.uuid4().hex[:16]
            self._active = job_id
            self._cancels[job_id] = threading.Event()
            self._jobs[job_id] = {
                "job_id": job_id,
                "state": "fetching",
                "symbol": symbol,
                "interval": interval,
                "config": config.as_dict(),
                "created_at_ms": _now_ms(),
                "epoch": 0,
                "history": [],
            }
            self._forget_old()
            return job_id

    def release(self, job_id: str) -> None:
        """Give up a reserved job that never started (its data could not be had)."""
        with self._lock:
            self._jobs.pop(job_id, None)
            self._cancels.pop(job_id, None)
            if self._active == job_id:
                self._active = None

    def start(self, job_id: str, close: np.ndarray, source: dict) -> dict:
        """Run the reserved job on these closes in the worker thread; its state now."""
        with self._lock:
            job = self._jobs[job_id]
            job.update(state="running", started_at_ms=_now_ms(), candles=len(close))
            snapshot = dict(job)
        self._executor.submit(self._run, job_id, close, source)
        return snapshot

    def _run(self, job_id: str, close: np.ndarray, source: dict) -> None:
        job = self._jobs[job_id]
        config = ForecasterConfig(**job["config"])

        def progress(epoch: dict) -> None:
            with self._lock:
                job["epoch"] = epoch["epoch"]
                job["history"] = [*job["history"], epoch]

        try:
            trained = train(close, config, self.device, progress, self._cancels[job_id])
            losses = [trained.metrics["train_loss"], trained.metrics["val_loss"]]
            if not all(math.isfinite(v) for v in losses):
                raise ArithmeticError("training diverged: a loss is not finite; nothing saved")
            meta = self.store.save(trained, source)
            outcome = {"state": "succeeded", "version": meta["version"], "metrics": meta["metrics"]}
        except TrainingCancelled as exc:
            outcome = {"state": "cancelled", "error": str(exc)}
        except Exception as exc:  # the job reports any failure, then ends
            log.exception("training job %s failed", job_id)
            outcome = {"state": "failed", "error": f"{type(exc).__name__}: {exc}"[:500]}
        with self._lock:
            job.update(outcome, finished_at_ms=_now_ms())
            self._cancels.pop(job_id, None)
            self._active = None

    def cancel(self, job_id: str) -> dict:
        """Ask a running job to stop at its next epoch (nothing is saved); its state now."""
        with self._lock:
            if job_id not in self._jobs:
                raise UnknownJob(f"no training job {job_id}")
            if job_id in self._cancels:
                self._cancels[job_id].set()
            return dict(self._jobs[job_id])

    def job(self, job_id: str) -> dict:
        with self._lock:
            if job_id not in self._jobs:
                raise UnknownJob(f"no training job {job_id}")
            return dict(self._jobs[job_id])

    @property
    def active(self) -> str | None:
        return self._active

    def _forget_old(self) -> None:
        """Drop the oldest finished jobs beyond `jobs_kept` (the active one always stays)."""
        finished = [j for j, v in self._jobs.items() if j != self._active and "finished_at_ms" in v]
        for job_id in finished[: max(0, len(self._jobs) - self.jobs_kept)]:
            del self._jobs[job_id]

    def close(self) -> None:
        """Stop a running training at its next epoch and wait for the thread."""
        with self._lock:
            self._closing = True
            for event in self._cancels.values():
                event.set()
        self._executor.shutdown(wait=True, cancel_futures=True)
