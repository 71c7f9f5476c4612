"""The hot paths of a request besides the model call: the cache key and its lookup in Redis,
the routing decision, and the offline writer through litellm."""

import asyncio
import os
import uuid

import litellm
import pytest
from redis.asyncio import Redis

from app import offline
from app.cache import ResponseCache, exact_key
from app.dispatch import ChatParams
from app.registry import ModelSpec, Registry
from app.router import plan
from tests.test_offline import BRIEF

MESSAGES = [
    {"role": "system", "content": "You write short market briefs."},
    {"role": "user", "content": BRIEF},
]


@pytest.fixture
def loop():
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def test_bench_cache_key_and_lookup(benchmark, loop):
    """Canonical hash of the request and one Redis GET of a stored answer (a hit)."""
    prefix = f"ai-provider-bench-{uuid.uuid4().hex[:8]}"
    redis = Redis.from_url(os.environ["REDIS_URL"], decode_responses=True)
    cache = ResponseCache(redis, prefix, ttl=60, max_entries=10)
    params = ChatParams(messages=MESSAGES)
    key = exact_key(["offline-template"], params, scope="shared")
    loop.run_until_complete(cache.store(key, {"model": "offline-template"}, None, None))

    def lookup():
        return loop.run_until_complete(
            cache.exact(exact_key(["offline-template"], params, scope="shared"))
        )

    try:
        hit = benchmark(lookup)
        assert hit is not None and hit.kind == "exact"
    finally:
        loop.run_until_complete(redis.delete(f"{prefix}:cache:{key}"))
        loop.run_until_complete(redis.aclose())


def test_bench_routing_decision(benchmark):
    """Token count of the prompt and the ordered candidates among 20 models."""
    registry = Registry(
        [
            ModelSpec(
                id=f"m{i}",
                litellm_model=f"openai/m{i}",
                provider="openai",
                owned_by="openai",
                tasks=("*",) if i % 2 else ("brief",),
                input_cost_per_1k=0.1 * i,
                output_cost_per_1k=0.2 * i,
            )
            for i in range(20)
        ]
    )

    def decide():
        tokens = litellm.token_counter(model=offline.TOKENIZER_MODEL, messages=MESSAGES)
        return plan(
            registry,
            model="auto",
            task="brief",
            prompt_tokens=tokens,
            max_tokens=300,
            max_cost_usd=0.5,
            prefer="cost",
            fallback=True,
            latency={"m3": 120.0},
        )

    route = benchmark(decide)
    assert route.ids[-1] == "offline-template"
    assert len(route.ids) > 2


def test_bench_offline_writer(benchmark, loop):
    """A market brief answered by offline-template through litellm (the whole model path)."""
    offline.register()

    def answer():
        return loop.run_until_complete(
            litellm.acompletion(model=offline.OFFLINE_LITELLM_MODEL, messages=MESSAGES)
        )

    response = benchmark(answer)
    assert response.choices[0].message.content.startswith(offline.MARKER)
    assert response.usage.completion_tokens > 0
