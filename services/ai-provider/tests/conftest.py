"""Fixtures: apps against the real Redis named by REDIS_URL, with fake providers on 127.0.0.1.

Every app gets its own Redis prefix (deleted afterwards), so counters, ledgers and caches
never mix between tests; provider keys come from an explicit environment (empty unless a
test gives some), so a key in the shell never changes what the tests route to.
"""

import os
import uuid
from collections.abc import Callable, Iterator

import pytest
import redis
from fastapi.testclient import TestClient

if not os.environ.get("REDIS_URL"):
    raise pytest.UsageError("set REDIS_URL (a running Redis) to run these tests")

import servicekit_testing as testing
from app.core.config import Settings
from app.main import build_app
from tests.fakes import FakeDeepLearning, FakeLangfuse, FakeProvider, free_port


@pytest.fixture(scope="session")
def provider() -> Iterator[FakeProvider]:
    fake = FakeProvider()
    fake.thread.start()
    yield fake
    fake.thread.stop()


@pytest.fixture(scope="session")
def deep_learning() -> Iterator[FakeDeepLearning]:
    fake = FakeDeepLearning()
    fake.thread.start()
    yield fake
    fake.thread.stop()


@pytest.fixture
def langfuse() -> Iterator[FakeLangfuse]:
    fake = FakeLangfuse()
    fake.thread.start()
    yield fake
    fake.thread.stop()


@pytest.fixture(scope="session")
def redis_client() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(os.environ["REDIS_URL"], decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def fake_model(provider: FakeProvider) -> Callable[..., dict]:
    """A MODELS entry served by the fake provider under a name of this test's own."""

    def make(name: str, **entry) -> dict:
        model = f"{name}-{uuid.uuid4().hex[:8]}"
        return {
            "id": name,
            "litellm_model": f"openai/{model}",
            "api_base": provider.base,
            "input_cost_per_1k": 0.001,
            "output_cost_per_1k": 0.002,
            **entry,
        }

    return make


def script_of(provider: FakeProvider, entry: dict, **behaviour):
    """Script the fake provider for a MODELS entry made by `fake_model`."""
    return provider.script(entry["litellm_model"].split("/", 1)[1], **behaviour)


@pytest.fixture
def make_client(redis_client: redis.Redis) -> Iterator[Callable[..., TestClient]]:
    """Start an app with these settings (deep-learning unreachable unless given); stopped and
    its Redis keys deleted at the end of the test."""
    started: list[tuple[TestClient, str]] = []

    def make(environ: dict | None = None, **overrides) -> TestClient:
        prefix = f"ai-provider-test-{uuid.uuid4().hex[:12]}"
        values = {
            "redis_prefix": prefix,
            "deep_learning_url": f"http://127.0.0.1:{free_port()}",
            "local_llm_url": None,
            "local_llm_model": None,
            "langfuse_public_key": None,
            "langfuse_secret_key": None,
            "retry_backoff": 0.0,
            "provider_timeout": 5.0,
            **overrides,
        }
        client = TestClient(
            build_app(Settings(**values), environ or {}), headers=testing.internal_headers()
        )
        client.__enter__()
        started.append((client, prefix))
        return client

    yield make
    for client, prefix in started:
        client.__exit__(None, None, None)
        keys = list(redis_client.scan_iter(f"{prefix}:*", count=1000))
        if keys:
            redis_client.delete(*keys)
