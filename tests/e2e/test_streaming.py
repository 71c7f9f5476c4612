"""ai-provider's `stream: true` through the gateway with the official `openai` client: the
events arrive as chunks, join to the whole answer, and the stream is accounted like one."""

import uuid

import httpx
import openai
import pytest

from tests.e2e.conftest import GATEWAY, bearer, register_and_login, user_id

pytestmark = pytest.mark.docker

AI = "/api/ai-provider"


def test_the_openai_client_streams_through_the_gateway(gateway: httpx.Client) -> None:
    _, tokens = register_and_login(gateway)
    token = tokens["access_token"]
    # The gateway's access token is the client's API key: it goes out as `Authorization: Bearer`.
    client = openai.OpenAI(base_url=f"{GATEWAY}{AI}/v1", api_key=token, max_retries=0)
    question = f"- symbol: EURUSD\n- last close: 1.0832\n- note: e2e {uuid.uuid4().hex[:8]}"
    messages = [{"role": "user", "content": question}]

    stream = client.chat.completions.create(
        model="offline-template",
        messages=messages,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)

    content = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta]
    text = "".join(part or "" for part in content)
    assert sum(1 for part in content if part) > 5  # streamed in pieces, not one blob
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    finished = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finished[-1] == "stop"
    usage = chunks[-1].usage
    assert chunks[-1].choices == [] and usage.completion_tokens > 0 and usage.prompt_tokens > 0
    assert "EURUSD" in text and "1.0832" in text

    # The same request without streaming is the streamed answer, from the cache it was put in.
    whole = client.chat.completions.with_raw_response.create(
        model="offline-template", messages=messages
    )
    assert whole.headers["x-cache"] == "exact"
    answer = whole.parse()
    assert answer.choices[0].message.content == text
    assert answer.usage.completion_tokens == usage.completion_tokens

    stats = gateway.get(f"{AI}/stats", headers=bearer(token)).json()
    mine = stats["cost"]["by_user"][user_id(token)]
    assert mine["requests"] == 1  # the streamed call; the cached one reached no model
    assert mine["prompt_tokens"] == usage.prompt_tokens
    assert mine["completion_tokens"] == usage.completion_tokens
    assert mine["cost_usd"] == 0  # the offline writer is free
    assert stats["cache"]["misses"] == 1 and stats["cache"]["exact_hits"] == 1


def test_a_stream_from_the_cache_also_arrives_in_chunks(gateway: httpx.Client) -> None:
    _, tokens = register_and_login(gateway)
    client = openai.OpenAI(
        base_url=f"{GATEWAY}{AI}/v1", api_key=tokens["access_token"], max_retries=0
    )
    messages = [{"role": "user", "content": f"Restate this: {uuid.uuid4().hex}"}]
    first = client.chat.completions.create(model="offline-template", messages=messages)

    response = client.chat.completions.with_raw_response.create(
        model="offline-template", messages=messages, stream=True
    )
    assert response.headers["x-cache"] == "exact"
    assert response.headers["content-type"].startswith("text/event-stream")
    chunks = list(response.parse())
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == first.choices[0].message.content
    assert len(chunks) > 5
