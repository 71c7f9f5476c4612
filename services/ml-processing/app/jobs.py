"""Training jobs: their state, kept in memory for GET /jobs/{id}.

A job is queued when POST /models/train accepts it, running while its model is fit in the
pool, then succeeded (with the new version and its metrics) or failed (with the reason).
Jobs live in this process only: after a restart the trained versions are in the registry,
the jobs that made them are forgotten.
"""

import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from typing import Literal

State = Literal["queued", "running", "succeeded", "failed"]
FINISHED = ("succeeded", "failed")


class TooManyJobs(Exception):
    """The queue of jobs waiting to train is full."""


@dataclass
class Job:
    id: str
    kind: str
    symbol: str
    interval: str
    candles: int
    promote: bool
    state: State = "queued"
    created_ms: int = field(default_factory=lambda: int(time.time() * 1000))
    started_ms: int | None = None
    finished_ms: int | None = None
    version: int | None = None
    metrics: dict | None = None
    promoted: bool = False
    error: str | None = None

    def public(self) -> dict:
        return asdict(self)


class Jobs:
    """The jobs of this process: at most `max_pending` unfinished, `history` finished."""

    def __init__(self, max_pending: int, history: int) -> None:
        self.max_pending = max_pending
        self.history = history
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()

    def create(self, **fields) -> Job:
        with self._lock:
            pending = sum(job.state not in FINISHED for job in self._jobs.values())
            if pending >= self.max_pending:
                raise TooManyJobs(
                    f"{pending} training jobs are queued or running (the most allowed): "
                    "try again when one has finished"
                )
            job = Job(id=uuid.uuid4().hex, **fields)
            self._jobs[job.id] = job
            self._forget_old()
            return job

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def start(self, job: Job) -> None:
        job.state, job.started_ms = "running", int(time.time() * 1000)

    def succeed(self, job: Job, version: int, metrics: dict, promoted: bool) -> None:
        job.version, job.metrics, job.promoted = version, metrics, promoted
        self._finish(job, "succeeded")

    def fail(self, job: Job, error: str) -> None:
        job.error = error
        self._finish(job, "failed")

    def _finish(self, job: Job, state: State) -> None:
        with self._lock:
            job.state, job.finished_ms = state, int(time.time() * 1000)
            self._forget_old()

    def _forget_old(self) -> None:
        finished = [job_id for job_id, job in self._jobs.items() if job.state in FINISHED]
        for job_id in finished[: max(0, len(finished) - self.history)]:
            del self._jobs[job_id]
