"""`stream: true` on POST /v1/chat/completions: OpenAI's server-sent events from the offline
writer, a provider and the caches; fallback before the first chunk, an error event after it,
accounting, and events that leave before the stream is over."""

import json
import threading

import anyio
import httpx
import litellm
import pytest

import servicekit_testing as testing
from app.core.config import Settings
from app.main import build_app
from app.offline import HANDLER, MARKER, TOKENIZER_MODEL
from tests.conftest import script_of
from tests.fakes import ServerThread, free_port
from tests.utils import ADMIN

FACTS = "Write a brief.\n- symbol: EURUSD\n- last close: 1.0832\n- signal (sma_cross): buy"


def ask(client, content: str = FACTS, **body):
    sent = {
        "model": "auto",
        "messages": [{"role": "user", "content": content}],
        "stream": True,
        **body,
    }
    return client.post("/v1/chat/completions", json=sent)


def events(text: str) -> list:
    """The `data:` payloads of a server-sent event stream: dicts, and "[DONE]"."""
    found = []
    for block in text.split("\n\n"):
        if block.startswith("data: "):
            data = block.removeprefix("data: ")
            found.append(data if data == "[DONE]" else json.loads(data))
        else:
            assert not block.strip(), f"not an event: {block!r}"
    return found


def joined(chunks: list) -> str:
    return "".join(
        c["choices"][0]["delta"].get("content") or ""
        for c in chunks
        if isinstance(c, dict) and c.get("choices")
    )


def test_the_offline_writer_streams_its_answer_word_by_word(make_client):
    client = make_client()
    whole = client.post(
        "/v1/chat/completions",
        json={"model": "offline-template", "messages": [{"role": "user", "content": FACTS}]},
    ).json()

    response = ask(client, model="offline-template", cache=False)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["X-Cache"] == "miss"
    sent = events(response.text)
    assert sent[-1] == "[DONE]"
    chunks = sent[:-1]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert len({c["id"] for c in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    text = joined(chunks)
    assert text == whole["choices"][0]["message"]["content"]
    assert text.startswith(MARKER)
    assert len(chunks) > 10  # a word per chunk, not the whole text in one
    last = chunks[-1]
    assert last["choices"][0] == {"index": 0, "delta": {}, "finish_reason": "stop"}
    assert last["model"] == "offline-template"
    assert last["provider"]["cache"] == "miss"
    assert last["provider"]["cost_usd"] == 0
    assert "usage" not in last  # only with stream_options.include_usage


def test_include_usage_adds_openais_usage_chunk_and_the_ledger_counts_it(make_client):
    client = make_client()
    whole = client.post(
        "/v1/chat/completions",
        json={
            "model": "offline-template",
            "messages": [{"role": "user", "content": FACTS}],
            "cache": False,
        },
    ).json()

    response = ask(
        client, model="offline-template", cache=False, stream_options={"include_usage": True}
    )

    chunks = events(response.text)[:-1]
    assert all(c["usage"] is None for c in chunks[:-1])
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == whole["usage"]
    assert whole["usage"]["completion_tokens"] > 10
    cost = client.get("/stats", headers=ADMIN).json()["cost"]["by_model"]["offline-template"]
    assert cost["requests"] == 2
    assert cost["prompt_tokens"] == 2 * whole["usage"]["prompt_tokens"]
    assert cost["completion_tokens"] == 2 * whole["usage"]["completion_tokens"]


def test_max_tokens_cuts_a_stream_with_finish_reason_length(make_client):
    client = make_client()
    response = ask(
        client, model="offline-template", max_tokens=5, stream_options={"include_usage": True}
    )

    chunks = events(response.text)[:-1]
    assert chunks[-2]["choices"][0]["finish_reason"] == "length"
    assert chunks[-1]["usage"]["completion_tokens"] == 5


def test_a_providers_stream_is_relayed_and_accounted_from_its_usage(
    make_client, provider, fake_model
):
    model = fake_model("streamer", input_cost_per_1k=1.0, output_cost_per_1k=2.0)
    script = script_of(provider, model, content="one two three four five", usage=(40, 9))
    client = make_client(models=[model])

    response = ask(client, "Count to five.", stream_options={"include_usage": True})

    assert response.status_code == 200, response.text
    chunks = events(response.text)[:-1]
    assert joined(chunks) == "one two three four five"
    assert [c["choices"][0]["delta"].get("content") for c in chunks[1:6]] == [
        "one ",
        "two ",
        "three ",
        "four ",
        "five",
    ]
    assert all(c["model"] == "streamer" for c in chunks)
    assert chunks[-1]["usage"] == {"prompt_tokens": 40, "completion_tokens": 9, "total_tokens": 49}
    expected = (40 * 1.0 + 9 * 2.0) / 1000
    assert chunks[-2]["provider"]["cost_usd"] == pytest.approx(expected)
    # The provider was asked to stream and to report its usage, whatever the client asked.
    assert script.calls[0]["stream"] is True
    assert script.calls[0]["stream_options"] == {"include_usage": True}
    stats = client.get("/stats", headers=ADMIN).json()
    assert stats["cost"]["by_model"]["streamer"] == {
        "requests": 1,
        "prompt_tokens": 40,
        "completion_tokens": 9,
        "cost_usd": pytest.approx(expected),
    }
    assert stats["latency_ms"]["streamer"]["samples"] == 1


def test_a_stream_without_usage_is_counted_by_the_token_counter(make_client, provider, fake_model):
    model = fake_model("quiet")
    script_of(provider, model, content="three short words", usage=None)
    client = make_client(models=[model])

    chunks = events(ask(client, stream_options={"include_usage": True}).text)[:-1]

    assert chunks[-1]["usage"]["completion_tokens"] == 3
    assert chunks[-1]["usage"]["prompt_tokens"] > 0


def test_a_streamed_answer_is_cached_and_a_hit_streams_from_the_stored_text(
    make_client, provider, fake_model
):
    model = fake_model("cached")
    script = script_of(provider, model, content="Pips are the fourth decimal place.")
    client = make_client(models=[model])

    first = ask(client, "What is a pip?")
    whole = client.post(
        "/v1/chat/completions",
        json={"model": "auto", "messages": [{"role": "user", "content": "What is a pip?"}]},
    )
    again = ask(client, "What is a pip?", stream_options={"include_usage": True})

    assert first.headers["X-Cache"] == "miss"
    assert whole.headers["X-Cache"] == "exact"  # the streamed answer was stored
    assert whole.json()["choices"][0]["message"]["content"] == joined(events(first.text))
    assert again.headers["X-Cache"] == "exact"
    chunks = events(again.text)
    assert chunks[-1] == "[DONE]"
    assert joined(chunks) == "Pips are the fourth decimal place."
    assert len(chunks) > 5
    assert chunks[-3]["provider"]["cache"] == "exact"
    assert chunks[-3]["provider"]["cost_usd"] == 0
    assert chunks[-2]["usage"] == whole.json()["usage"]
    assert len(script.calls) == 1
    assert client.get("/stats", headers=ADMIN).json()["cache"]["exact_hits"] == 2


def test_a_semantic_hit_streams(make_client, provider, fake_model, deep_learning):
    model = fake_model("sem")
    script_of(provider, model, content="Paris is the capital.")
    client = make_client(models=[model], deep_learning_url=deep_learning.url)

    ask(client, "What is the capital of France?")
    response = ask(client, "what is the capital of france")

    assert response.headers["X-Cache"] == "semantic"
    chunks = events(response.text)
    assert joined(chunks) == "Paris is the capital."
    assert chunks[-2]["provider"]["similarity"] >= 0.92


def test_a_model_failing_before_its_first_chunk_falls_back(make_client, provider, fake_model):
    broken = fake_model("broken", input_cost_per_1k=0.0, output_cost_per_1k=0.0)
    backup = fake_model("backup")
    broken_script = script_of(provider, broken, fail=100)
    script_of(provider, backup, content="from the backup")
    client = make_client(models=[broken, backup], provider_retries=1)

    response = ask(client, "Say something.")

    assert response.status_code == 200, response.text
    chunks = events(response.text)
    assert joined(chunks) == "from the backup"
    assert chunks[1]["model"] == "backup"
    assert [a["model"] for a in chunks[-2]["provider"]["attempts"]] == ["broken", "broken"]
    assert len(broken_script.calls) == 2
    stats = client.get("/stats", headers=ADMIN).json()
    assert stats["fallbacks"] == 1
    assert stats["failures"] == {"broken": 2}
    # A fallback's answer is not cached.
    assert ask(client, "Say something.").headers["X-Cache"] == "miss"


def test_every_candidate_failing_before_a_chunk_is_still_a_502(make_client, provider, fake_model):
    broken = fake_model("broken")
    script_of(provider, broken, fail=100)
    client = make_client(models=[broken], provider_retries=0)

    response = ask(client, model="broken", fallback=False)

    assert response.status_code == 502
    assert response.json()["failures"][0]["model"] == "broken"


def test_an_error_after_the_first_chunk_ends_the_stream_with_an_error_event(
    make_client, provider, fake_model
):
    flaky = fake_model("flaky", input_cost_per_1k=1.0, output_cost_per_1k=2.0, fallbacks=["backup"])
    script = script_of(provider, flaky, content="one two three four five", break_after=2)
    backup = fake_model("backup")
    backup_script = script_of(provider, backup)
    client = make_client(models=[flaky, backup], provider_retries=1)

    response = ask(client, "Count to five.", model="flaky")

    assert response.status_code == 200
    sent = events(response.text)
    assert "[DONE]" not in sent
    assert joined(sent[:-1]) == "one two "
    error = sent[-1]["error"]
    assert error["code"] == 502
    assert error["message"].startswith("flaky broke off its answer")
    # No retry and no fallback once the client has text: it would get two answers spliced.
    assert len(script.calls) == 1
    assert backup_script.calls == []
    stats = client.get("/stats", headers=ADMIN).json()
    assert stats["failures"] == {"flaky": 1}
    # What it sent is counted (the provider charges for it); nothing is cached.
    assert stats["cost"]["by_model"]["flaky"]["requests"] == 1
    counted = litellm.token_counter(model=TOKENIZER_MODEL, text="one two ")
    assert stats["cost"]["by_model"]["flaky"]["completion_tokens"] == counted
    assert ask(client, "Count to five.", model="flaky").headers["X-Cache"] == "miss"


@pytest.fixture
def served(redis_client):
    """The app behind a real uvicorn on loopback (TestClient hands over a response only once
    it is complete, so it cannot show that events leave one by one)."""
    prefix = f"ai-provider-test-{free_port()}"
    settings = Settings(
        redis_prefix=prefix,
        deep_learning_url=f"http://127.0.0.1:{free_port()}",
        local_llm_url=None,
        local_llm_model=None,
        langfuse_public_key=None,
        langfuse_secret_key=None,
    )
    server = ServerThread(build_app(settings, {})).start()
    yield server
    server.stop()
    keys = list(redis_client.scan_iter(f"{prefix}:*", count=1000))
    if keys:
        redis_client.delete(*keys)


def test_the_first_chunk_reaches_the_client_before_the_rest_is_written(served):
    release = threading.Event()

    async def hold() -> None:
        await anyio.to_thread.run_sync(release.wait)

    HANDLER.between_chunks = hold
    try:
        sent = {
            "model": "offline-template",
            "messages": [{"role": "user", "content": FACTS}],
            "stream": True,
            "cache": False,
        }
        client = httpx.Client(base_url=served.url, headers=testing.internal_headers())
        with (
            client,
            client.stream("POST", "/v1/chat/completions", json=sent, timeout=30) as response,
        ):
            lines = response.iter_lines()
            # The writer holds every chunk after its first until `release` is set: these
            # two events can only be read here if they left before the stream was over.
            role = json.loads(next(line for line in lines if line).removeprefix("data: "))
            word = json.loads(next(line for line in lines if line).removeprefix("data: "))
            assert role["choices"][0]["delta"]["role"] == "assistant"
            assert word["choices"][0]["delta"]["content"].startswith("[offline")
            assert not release.is_set()
            release.set()
            rest = [line for line in lines if line]
        assert rest[-1] == "data: [DONE]"
        assert len(rest) > 10
    finally:
        release.set()
        HANDLER.between_chunks = None
