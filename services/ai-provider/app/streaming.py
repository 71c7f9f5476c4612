"""`stream: true`: OpenAI's server-sent events for a chat completion.

Events are `data: <chat.completion.chunk>` lines: a first chunk with the assistant's role, one
per piece of text as the model sends it, a last chunk with the finish reason (and this
service's `provider` block), with `stream_options.include_usage` a usage chunk (`choices: []`)
as OpenAI sends it, then `data: [DONE]`.

The response head (status, X-Cache) waits for the model's first chunk: until then a failure
goes to the next candidate exactly as without streaming, and a 502 is still possible. After it,
a failure ends the stream with an error event (`data: {"error": {...}}`, which OpenAI's clients
raise) and no [DONE], never a silent cut. Cached answers stream from the stored text, a word
per chunk. A finished stream is accounted and cached like a whole answer; one cut short (an
error, or the client leaving) is accounted for the tokens it consumed and not cached.
"""

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import anyio

from app.chat import Lookup, dispatch, look_up, settle
from app.core.backends import Backends
from app.dispatch import Answer, Opened, count_tokens, describe, stream
from app.offline import pieces
from app.schemas import ChatCompletionCreate

DONE = b"data: [DONE]\n\n"


def event(data: dict) -> bytes:
    """One server-sent event."""
    return b"data: " + json.dumps(data, separators=(",", ":")).encode() + b"\n\n"


@dataclass
class Chunks:
    """Makes the chunks of one stream (its id, creation time and model)."""

    id: str
    created: int
    model: str
    include_usage: bool

    def delta(self, delta: dict, finish_reason: str | None = None, **extra) -> bytes:
        chunk = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
            **extra,
        }
        if self.include_usage:  # OpenAI sends `usage: null` on every chunk but the last
            chunk["usage"] = None
        return event(chunk)

    def usage(self, usage: dict) -> bytes:
        return event(
            {
                "id": self.id,
                "object": "chat.completion.chunk",
                "created": self.created,
                "model": self.model,
                "choices": [],
                "usage": usage,
            }
        )


def usage_of(prompt_tokens: int, completion_tokens: int) -> dict:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


async def replay(answer: dict, include_usage: bool) -> AsyncIterator[bytes]:
    """A cached answer (the stored chat.completion plus `provider`) as a stream."""
    chunks = Chunks(answer["id"], answer["created"], answer["model"], include_usage)
    choice = answer["choices"][0]
    yield chunks.delta({"role": "assistant", "content": ""})
    for piece in pieces(choice["message"]["content"]):
        yield chunks.delta({"content": piece})
    yield chunks.delta({}, choice["finish_reason"], provider=answer["provider"])
    if include_usage:
        yield chunks.usage(answer["usage"])
    yield DONE


@dataclass
class Received:
    """What a live stream has brought so far."""

    texts: list[str] = field(default_factory=list)
    finish_reason: str | None = None
    usage: object = None

    def take(self, chunk) -> str:
        """Note `chunk`'s finish reason and usage; its text."""
        choices = getattr(chunk, "choices", None) or []
        if choices:
            self.finish_reason = choices[0].finish_reason or self.finish_reason
        self.usage = getattr(chunk, "usage", None) or self.usage
        delta = choices[0].delta if choices else None
        text = (getattr(delta, "content", None) or "") if delta is not None else ""
        if text:
            self.texts.append(text)
        return text

    @property
    def text(self) -> str:
        return "".join(self.texts)


async def relay(
    backends: Backends, found: Lookup, opened: Opened, include_usage: bool
) -> AsyncIterator[bytes]:
    """A model's stream as OpenAI's events, accounted and cached once it is complete."""
    spec, first = opened.spec, opened.first
    timeout = spec.timeout or backends.settings.provider_timeout
    created = int(getattr(first, "created", 0) or time.time())
    chunks = Chunks(
        getattr(first, "id", None) or f"chatcmpl-{uuid.uuid4().hex}",
        created,
        spec.id,
        include_usage,
    )
    received = Received()
    complete, error = False, None
    try:
        yield chunks.delta({"role": "assistant", "content": ""})
        chunk, rest = first, aiter(opened.stream)
        while True:
            if text := received.take(chunk):
                yield chunks.delta({"content": text})
            try:
                # Each chunk within the model's timeout: a stalled stream is a failure too.
                async with asyncio.timeout(timeout):
                    chunk = await anext(rest)
            except StopAsyncIteration:
                break
        complete = True
    except Exception as exc:  # noqa: BLE001 - after the first chunk: end the stream with it
        error = describe(exc, timeout)
    finally:
        # Shielded: a client that left cancels this generator, and the provider's stream must
        # still be closed and its tokens still counted.
        with anyio.CancelScope(shield=True):
            await opened.stream.aclose()
            if not complete:
                await _cut_short(backends, found, opened, received, error)
    if error is not None:
        message = f"{spec.id} broke off its answer: {error}"
        yield event({"error": {"message": message, "type": "provider_error", "code": 502}})
        return
    answer = _answer(found, opened, received)
    finish_reason = received.finish_reason or "stop"
    result = {
        "id": chunks.id,
        "object": "chat.completion",
        "created": created,
        "model": spec.id,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": received.text},
                "finish_reason": finish_reason,
            }
        ],
        "usage": usage_of(answer.prompt_tokens, answer.completion_tokens),
    }
    provider = await settle(backends, found, answer, result)
    yield chunks.delta({}, finish_reason, provider=provider)
    if include_usage:
        yield chunks.usage(result["usage"])
    yield DONE


def _answer(found: Lookup, opened: Opened, received: Received) -> Answer:
    """The answer received, its tokens counted as a whole answer's are."""
    prompt_tokens, completion_tokens = count_tokens(
        received.usage, found.params.messages, received.text
    )
    latency_ms = (time.perf_counter() - opened.started) * 1000
    return Answer(opened.spec, None, prompt_tokens, completion_tokens, latency_ms, opened.attempts)


async def _cut_short(
    backends: Backends, found: Lookup, opened: Opened, received: Received, error: str | None
) -> None:
    """A stream that ended early: its tokens are the caller's cost; a provider's error is a
    failure of the model (a client that left is not). Nothing is cached."""
    answer = _answer(found, opened, received)
    failures = [*opened.attempts]
    if error is not None:
        failures.append({"model": opened.spec.id, "error": error})
    await backends.ledger.failed(failures)
    await backends.ledger.record(
        answer.spec.id,
        found.params.user,
        answer.prompt_tokens,
        answer.completion_tokens,
        answer.cost_usd,
    )


async def chat_completion_stream(
    backends: Backends, body: ChatCompletionCreate, user: str
) -> tuple[AsyncIterator[bytes], str]:
    """The events of the answer and its cache state; raises before any event as
    chat_completion does (AllCandidatesFailed when no candidate gave a first chunk)."""
    include_usage = bool(body.stream_options and body.stream_options.include_usage)
    found = await look_up(backends, body, user)
    if found.hit is not None:
        return replay(found.hit, include_usage), found.kind
    opened = await dispatch(backends, found, stream)
    return relay(backends, found, opened, include_usage), "miss"
