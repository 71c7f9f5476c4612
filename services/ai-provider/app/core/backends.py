"""What ai-provider holds for its lifetime: the model registry, Redis (cache, ledger,
counters), deep-learning's client and the tracing callback."""

import logging

import litellm
from redis.asyncio import Redis

from app import offline, tracing
from app.cache import ResponseCache
from app.core.config import Settings
from app.costs import Ledger
from app.deep_learning import DeepLearning
from app.registry import Registry
from servicekit.redisclient import check_redis, redis_client

log = logging.getLogger("ai-provider.backends")


class Backends:
    """Opened by the lifespan (inside the serving event loop), closed at shutdown."""

    redis: Redis
    cache: ResponseCache
    ledger: Ledger
    deep_learning: DeepLearning

    def __init__(self, settings: Settings, registry: Registry) -> None:
        self.settings = settings
        self.registry = registry
        self.tracing = "off"
        offline.register()
        # litellm logs every call at INFO and prints help banners on errors; the attempts
        # are logged here once, in the service's format.
        litellm.suppress_debug_info = True
        for name in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy"):
            logging.getLogger(name).setLevel(logging.WARNING)

    async def open(self) -> None:
        """Create the clients (none connects until first used) and start tracing."""
        s = self.settings
        self.redis = redis_client(s)
        self.cache = ResponseCache(
            self.redis, s.redis_prefix, s.cache_ttl_seconds, s.semantic_max_entries
        )
        self.ledger = Ledger(self.redis, s.redis_prefix, s.latency_ewma_alpha)
        self.deep_learning = DeepLearning(
            s.deep_learning_url,
            s.deep_learning_timeout,
            s.deep_learning_retry_seconds,
            internal_token=s.internal_token,
        )
        self.tracing = tracing.start(s)
        names = ", ".join(self.registry.chat)
        log.info("chat models: %s; tracing: %s", names, self.tracing)

    async def close(self) -> None:
        if self.tracing != "off":
            tracing.stop()
            self.tracing = "off"
        await self.deep_learning.aclose()
        await self.redis.aclose()

    async def check_redis(self) -> str | None:
        """Health: Redis answers PING (cache, ledger and counters live there)."""
        return await check_redis(self.redis)

    async def check_deep_learning(self) -> str | None:
        """Health: deep-learning answers (degraded when not: the semantic cache is off)."""
        return await self.deep_learning.check()
