"""deep-learning's sentence embeddings: the default embedding model and the semantic cache.

deep-learning is tier 5 and may not run at all. After a failed call it is left alone for
DEEP_LEARNING_RETRY_SECONDS, so a stopped service costs one refused connection per interval
instead of one per request, and the semantic cache is off meanwhile.
"""

import logging
import time

import httpx

from servicekit.http import ServiceClient

log = logging.getLogger("ai-provider.deep-learning")


class DeepLearningUnavailable(RuntimeError):
    """deep-learning did not answer (not running, or its model still loading)."""


class EmbeddingRejected(ValueError):
    """deep-learning refused the texts (empty, too long, too many): its status and reason."""

    def __init__(self, status_code: int, detail: object) -> None:
        super().__init__(str(detail))
        self.status_code = status_code
        self.detail = detail


class DeepLearning:
    """A client for deep-learning's POST /embeddings that remembers whether it answers."""

    def __init__(
        self, base_url: str, timeout: float, retry_seconds: float, internal_token: str = ""
    ) -> None:
        self.base_url = base_url
        # One attempt: the caller decides what a failure means (503, or no semantic cache).
        self.client = ServiceClient(
            base_url, timeout=timeout, attempts=1, internal_token=internal_token
        )
        self.retry_seconds = retry_seconds
        self._down_until = 0.0
        self._last_ok = False
        self.reason = "not asked yet"

    @property
    def enabled(self) -> bool:
        """Whether the last call answered (and the pause after a failure is over)."""
        return self._last_ok and time.monotonic() >= self._down_until

    async def available(self) -> bool:
        """Whether it answers now: the last call's word, asked again once a pause is over."""
        if self.enabled:
            return True
        if time.monotonic() < self._down_until:
            return False
        return await self.check() is None

    def _failed(self, reason: str) -> None:
        self._last_ok = False
        self.reason = reason
        self._down_until = time.monotonic() + self.retry_seconds

    async def embed(self, texts: list[str]) -> tuple[str, list[list[float]]]:
        """Model name and one unit vector per text."""
        try:
            response = await self.client.post("/embeddings", json={"texts": texts})
        except httpx.HTTPError as exc:
            self._failed(f"deep-learning at {self.base_url} is not running ({type(exc).__name__})")
            raise DeepLearningUnavailable(self.reason) from exc
        if response.status_code in (413, 422):
            raise EmbeddingRejected(response.status_code, response.json().get("detail"))
        if response.status_code != 200:
            self._failed(f"deep-learning answered {response.status_code} (model still loading?)")
            raise DeepLearningUnavailable(self.reason)
        body = response.json()
        self._last_ok, self.reason = True, "ok"
        return body["model"], body["embeddings"]

    async def vector(self, text: str) -> list[float] | None:
        """The text's embedding for the semantic cache, or None while deep-learning is down."""
        if time.monotonic() < self._down_until:
            return None
        try:
            return (await self.embed([text]))[1][0]
        except (DeepLearningUnavailable, EmbeddingRejected) as exc:
            log.info("semantic cache skipped: %s", exc)
            return None

    async def check(self) -> str | None:
        """Health: degraded (never down) when deep-learning does not answer or its embedding
        model is not loaded; the semantic cache and all-minilm-l6-v2 are off meanwhile."""
        try:
            response = await self.client.get("/health")
            report = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            self._failed(f"deep-learning at {self.base_url} is not running ({type(exc).__name__})")
            return f"{self.reason}: semantic cache off, all-minilm-l6-v2 unavailable"
        model_check = (report.get("checks") or {}).get("embedding-model") or {}
        if model_check.get("status") != "ok":
            self._failed("deep-learning's embedding model is not ready")
            return f"{self.reason}: semantic cache off until it is"
        self._last_ok, self._down_until, self.reason = True, 0.0, "ok"
        return None

    async def aclose(self) -> None:
        await self.client.aclose()
