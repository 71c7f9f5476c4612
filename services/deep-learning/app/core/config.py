"""Settings of deep-learning, read from the environment (see services/README.md)."""

import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from servicekit.database import DatabaseServiceSettings
from servicekit.pool import ThreadsSettings


def default_checkpoint_dir() -> Path:
    """Outside a container: a folder under the system temp dir, stable across restarts (the
    image sets CHECKPOINT_DIR to its named volume)."""
    return Path(tempfile.gettempdir()) / "deep-learning-checkpoints"


class Settings(DatabaseServiceSettings, ThreadsSettings):
    """Backends, torch's device and threads, where checkpoints live and the request bounds.

    `threads` (OMP_NUM_THREADS) is torch's intra-op threads: one variable sizes OpenMP, BLAS
    and torch alike."""

    service_name: str = "deep-learning"
    port: int = 8007

    # auto: cuda when this torch build sees a GPU, else cpu. cuda without a GPU refuses to start.
    device: Literal["auto", "cpu", "cuda"] = "auto"
    # Requests computing at once (forecasts, embeddings) in the CPU pool, off the event loop.
    # Each already uses `threads` intra-op threads, so a few are enough.
    pool_threads: int = Field(default=2, ge=1, le=32)

    checkpoint_dir: Path = Field(default_factory=default_checkpoint_dir)
    # Forecaster modules kept loaded (each is a few hundred kB at most); others load on use.
    loaded_forecasters: int = Field(default=8, ge=1, le=256)
    # Finished training jobs remembered for GET /forecasters/jobs/{id}.
    jobs_kept: int = Field(default=50, ge=1, le=10_000)

    # Candles one training may read, and the default when a request names none.
    max_train_candles: int = Field(default=20_000, ge=100, le=100_000)
    default_train_candles: int = Field(default=5_000, ge=100)
    max_epochs: int = Field(default=200, ge=1)
    # Closes a forecast request may carry in `history` (only the last window + 1 are used).
    max_history: int = Field(default=10_000, ge=10)

    # POST /embeddings bounds: texts per request and characters per text (beyond: 413). The
    # model reads at most 256 word pieces anyway; the bound keeps tokenizing cheap.
    embedding_max_batch: int = Field(default=64, ge=1, le=1_024)
    embedding_max_chars: int = Field(default=2_000, ge=1)
    # Load the embedding model at startup, in the background (true), or on the first
    # POST /embeddings (false: a service that only forecasts never pays its memory).
    embedding_preload: bool = True
    # Texts the model encodes per forward pass.
    embedding_batch_size: int = Field(default=32, ge=1, le=256)

    @model_validator(mode="after")
    def _check_limits(self) -> "Settings":
        if self.default_train_candles > self.max_train_candles:
            raise ValueError("DEFAULT_TRAIN_CANDLES must not exceed MAX_TRAIN_CANDLES")
        return self


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
