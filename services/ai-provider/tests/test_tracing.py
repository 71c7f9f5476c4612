"""Tracing: spans reach Langfuse when its keys are set, requests succeed when Langfuse is
unreachable, and nothing is registered without the keys."""

import time

import litellm
import pytest

from app import tracing
from tests.fakes import free_port
from tests.utils import ADMIN

SENT = {"model": "auto", "messages": [{"role": "user", "content": "trace me"}], "cache": False}


@pytest.fixture(autouse=True)
def _langfuse_env(monkeypatch):
    # tracing.start() exports the keys to the environment for litellm; undo that afterwards.
    for name in ("LANGFUSE_PUBLIC_KEY", "LANGFUSE_SECRET_KEY", "LANGFUSE_HOST"):
        monkeypatch.delenv(name, raising=False)
    # Export spans quickly (OpenTelemetry's batch processor reads it when it is created).
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "100")
    # An unreachable Langfuse: the exporter's thread gives up after a second, not ten.
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "1")


def callbacks() -> list:
    return [*litellm.callbacks, *litellm._async_success_callback, *litellm.success_callback]


def test_without_keys_nothing_is_traced(make_client):
    client = make_client()

    assert client.post("/v1/chat/completions", json=SENT).status_code == 200
    assert client.get("/stats", headers=ADMIN).json()["tracing"] == "off"
    assert tracing.CALLBACK not in callbacks()
    assert tracing._loggers() == []


def test_spans_reach_langfuse_with_the_keys(make_client, langfuse):
    client = make_client(
        langfuse_public_key="pk-lf-test",
        langfuse_secret_key="sk-lf-test",
        langfuse_host=langfuse.url,
    )

    assert client.get("/stats", headers=ADMIN).json()["tracing"] == "langfuse"
    response = client.post("/v1/chat/completions", json=SENT)
    assert response.status_code == 200
    # litellm logs a call after answering it, off the request's path; its span then leaves
    # within OTEL_BSP_SCHEDULE_DELAY. Bounded wait: the assertion below fails if none came.
    deadline = time.monotonic() + 10
    while not langfuse.exports and time.monotonic() < deadline:
        time.sleep(0.05)
    client.__exit__(None, None, None)

    assert langfuse.exports, "no span reached the Langfuse endpoint"
    export = langfuse.exports[0]
    # Basic base64("pk-lf-test:sk-lf-test")
    assert export["headers"]["authorization"] == "Basic cGstbGYtdGVzdDpzay1sZi10ZXN0"
    assert b"offline-template" in b"".join(e["body"] for e in langfuse.exports)
    assert tracing._loggers() == []


def test_an_unreachable_langfuse_never_fails_a_request(make_client):
    client = make_client(
        langfuse_public_key="pk-lf-test",
        langfuse_secret_key="sk-lf-test",
        langfuse_host=f"http://127.0.0.1:{free_port()}",
    )

    for _ in range(2):
        response = client.post("/v1/chat/completions", json=SENT)
        assert response.status_code == 200
        assert response.json()["model"] == "offline-template"
    assert client.get("/stats", headers=ADMIN).json()["tracing"] == "langfuse"
