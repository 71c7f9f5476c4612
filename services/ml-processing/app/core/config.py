"""Settings of ml-processing, read from the environment (see services/README.md)."""

import os
import tempfile
from functools import lru_cache

from pydantic import Field

from servicekit.database import DatabaseServiceSettings
from servicekit.market import CandleLimitsSettings
from servicekit.pool import ThreadsSettings


class Settings(DatabaseServiceSettings, ThreadsSettings, CandleLimitsSettings):
    """database-service, the model directory, the CPU pool, the cache and training limits.

    `threads` sizes the pool that trains and runs large batches off the event loop, and is the
    thread count handed to xgboost (nthread) and catboost (thread_count) while training."""

    service_name: str = "ml-processing"
    port: int = 8006

    # Where the registry keeps every trained version. Containers mount a named volume at
    # /var/lib/service/models; outside one the default is a directory under the temp dir.
    model_dir: str = os.path.join(tempfile.gettempdir(), "ml-processing-models")

    # Entries of the prediction cache (0 turns it off); keyed by (version, exact features).
    prediction_cache_size: int = Field(default=10_000, ge=0)
    # Rows one POST /predict/batch may carry (MAX_BODY_BYTES bounds it too).
    max_batch_rows: int = Field(default=10_000, ge=1)
    # A batch with more rows than this is predicted in the pool, not on the event loop.
    inline_batch_rows: int = Field(default=256, ge=1)
    # Model versions kept loaded besides the active one (for requests naming a version).
    loaded_versions: int = Field(default=8, ge=1)

    # Candles a training job reads when it names no limit, and the most it may read.
    default_candles: int = Field(default=5_000, ge=100)
    max_candles: int = Field(default=100_000, ge=100, le=100_000)
    # Trainings running at once; each uses every pool thread through its library, so more
    # would only oversubscribe the CPUs. Further jobs wait (queued) up to max_pending_jobs.
    concurrent_trainings: int = Field(default=1, ge=1)
    max_pending_jobs: int = Field(default=16, ge=1)
    # Finished jobs remembered for GET /jobs/{id} (the oldest are forgotten first).
    job_history: int = Field(default=1_000, ge=1)


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
