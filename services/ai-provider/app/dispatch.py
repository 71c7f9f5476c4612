"""Calling the candidates through litellm: a timeout per call, retries, then the next model.

Each candidate gets 1 + PROVIDER_RETRIES attempts when the failure may pass (a timeout, a
5xx, a refused or dropped connection); any other failure (a rejected key, a bad request, a
rate limit) moves to the next candidate at once. litellm's and the OpenAI client's own
retries are off, so the attempts listed are the attempts made. A streamed answer takes the
same path up to its first chunk (`stream`); after that it is the client's.
"""

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

import litellm

from app.offline import TOKENIZER_MODEL
from app.registry import ModelSpec

log = logging.getLogger("ai-provider.dispatch")

# The OpenAI client's timeout error is an APIConnectionError; litellm maps 5xx answers and
# refused connections to the others.
RETRYABLE = (
    TimeoutError,
    litellm.Timeout,
    litellm.APIConnectionError,
    litellm.InternalServerError,
    litellm.ServiceUnavailableError,
    litellm.BadGatewayError,
)
ERROR_CHARS = 300
T = TypeVar("T")


@dataclass
class ChatParams:
    """What a request asks of the model, as litellm takes it."""

    messages: list[dict]
    temperature: float = 0.0
    max_tokens: int | None = None
    top_p: float | None = None
    stop: list[str] | None = None
    user: str = "anonymous"
    task: str = "chat"

    def litellm_kwargs(self) -> dict:
        optional = {"max_tokens": self.max_tokens, "top_p": self.top_p, "stop": self.stop}
        # The user goes to tracing only (metadata), never to the provider.
        return {
            "messages": self.messages,
            "temperature": self.temperature,
            **{key: value for key, value in optional.items() if value is not None},
        }


@dataclass
class Answer:
    """A model's answer, its token counts and how it was reached."""

    spec: ModelSpec
    # None for a streamed answer: the client has its chunks, app.streaming assembles its body.
    response: litellm.ModelResponse | None
    prompt_tokens: int
    completion_tokens: int
    latency_ms: float
    attempts: list[dict] = field(default_factory=list)

    @property
    def cost_usd(self) -> float:
        return self.spec.cost(self.prompt_tokens, self.completion_tokens)


class AllCandidatesFailed(RuntimeError):
    """Every candidate failed; `failures` has the last error of each."""

    def __init__(self, failures: list[dict], attempts: list[dict]) -> None:
        names = ", ".join(f"{f['model']} ({f['provider']})" for f in failures)
        super().__init__(f"every candidate model failed: {names}")
        self.failures = failures
        self.attempts = attempts


def describe(exc: BaseException, timeout: float) -> str:
    """A short, readable reason for an attempt's failure."""
    if isinstance(exc, TimeoutError | litellm.Timeout):
        return f"timeout: no answer within {timeout:g} s"
    status = getattr(exc, "status_code", None)
    message = str(getattr(exc, "message", None) or exc).replace("\n", " ")
    prefix = f"{type(exc).__name__}" + (f" {status}" if status else "")
    return f"{prefix}: {message}"[:ERROR_CHARS]


def count_tokens(usage, messages: list[dict], text: str) -> tuple[int, int]:
    """Prompt and completion tokens: the provider's counts, else litellm's token counter
    (some local servers report none, streamed answers often neither)."""
    prompt = getattr(usage, "prompt_tokens", None) or 0
    completion = getattr(usage, "completion_tokens", None) or 0
    if prompt <= 0:
        prompt = litellm.token_counter(model=TOKENIZER_MODEL, messages=messages)
    if completion <= 0:
        completion = litellm.token_counter(model=TOKENIZER_MODEL, text=text) if text else 0
    return prompt, completion


def count_usage(response: litellm.ModelResponse, messages: list[dict]) -> tuple[int, int]:
    """count_tokens for a whole answer."""
    text = (response.choices[0].message.content or "") if response.choices else ""
    return count_tokens(getattr(response, "usage", None), messages, text)


def _call_kwargs(spec: ModelSpec, params: ChatParams, seconds: float) -> dict:
    return {
        "model": spec.litellm_model,
        "api_base": spec.api_base,
        "api_key": spec.api_key,
        "timeout": seconds,
        "max_retries": 0,
        "num_retries": 0,
        # A provider that takes no top_p or stop gets the call without them.
        "drop_params": True,
        "metadata": {
            "trace_user_id": params.user,
            "tags": [f"task:{params.task}", f"model:{spec.id}"],
            "generation_name": f"ai-provider {params.task}",
        },
        **params.litellm_kwargs(),
    }


async def call_model(spec: ModelSpec, params: ChatParams, seconds: float) -> litellm.ModelResponse:
    """One attempt; asyncio's timeout bounds it even if a server trickles bytes."""
    async with asyncio.timeout(seconds):
        return await litellm.acompletion(**_call_kwargs(spec, params, seconds))


@dataclass
class Opened:
    """A stream whose first chunk has arrived: from here on a failure cannot go to the next
    candidate (the client has the first chunk), so it ends the stream with an error."""

    spec: ModelSpec
    stream: AsyncIterator
    first: object
    started: float
    attempts: list[dict] = field(default_factory=list)


async def open_stream(spec: ModelSpec, params: ChatParams, seconds: float) -> Opened:
    """One streaming attempt, up to its first chunk (within `seconds`). The provider is asked
    for its usage at the end (`include_usage`) whatever the client asked: the ledger needs it."""
    started = time.perf_counter()
    stream = None
    try:
        async with asyncio.timeout(seconds):
            stream = await litellm.acompletion(
                stream=True,
                stream_options={"include_usage": True},
                **_call_kwargs(spec, params, seconds),
            )
            first = await anext(aiter(stream))
    except BaseException:
        if stream is not None:
            await stream.aclose()
        raise
    return Opened(spec, stream, first, started)


async def _first_success(
    candidates: tuple[ModelSpec, ...],
    attempt_with: Callable[[ModelSpec, float], Awaitable[T]],
    *,
    default_timeout: float,
    retries: int,
    backoff: float,
) -> tuple[T, list[dict]]:
    """The first candidate's result that succeeds and the failed attempts before it."""
    attempts: list[dict] = []
    failures: list[dict] = []
    for spec in candidates:
        timeout = spec.timeout or default_timeout
        error = ""
        for attempt in range(retries + 1):
            try:
                return await attempt_with(spec, timeout), attempts
            except RETRYABLE as exc:
                error = describe(exc, timeout)
                attempts.append({"model": spec.id, "error": error})
                log.warning("%s attempt %d failed: %s", spec.id, attempt + 1, error)
                if attempt < retries:
                    await asyncio.sleep(backoff * (attempt + 1))
                continue
            except Exception as exc:  # noqa: BLE001 - any other provider error: next model
                error = describe(exc, timeout)
                attempts.append({"model": spec.id, "error": error})
                log.warning("%s failed (not retried): %s", spec.id, error)
                break
        failures.append({"model": spec.id, "provider": spec.provider, "error": error})
    raise AllCandidatesFailed(failures, attempts)


async def complete(
    candidates: tuple[ModelSpec, ...],
    params: ChatParams,
    *,
    default_timeout: float,
    retries: int,
    backoff: float,
) -> Answer:
    """The first candidate's answer that succeeds (AllCandidatesFailed when none does)."""

    async def attempt(spec: ModelSpec, seconds: float) -> Answer:
        started = time.perf_counter()
        response = await call_model(spec, params, seconds)
        latency_ms = (time.perf_counter() - started) * 1000
        prompt_tokens, completion_tokens = count_usage(response, params.messages)
        return Answer(spec, response, prompt_tokens, completion_tokens, latency_ms)

    answer, attempts = await _first_success(
        candidates, attempt, default_timeout=default_timeout, retries=retries, backoff=backoff
    )
    answer.attempts = attempts
    return answer


async def stream(
    candidates: tuple[ModelSpec, ...],
    params: ChatParams,
    *,
    default_timeout: float,
    retries: int,
    backoff: float,
) -> Opened:
    """The first candidate's stream that yields a first chunk, with the same retries and
    fallbacks as `complete` (AllCandidatesFailed when none does)."""

    async def attempt(spec: ModelSpec, seconds: float) -> Opened:
        return await open_stream(spec, params, seconds)

    opened, attempts = await _first_success(
        candidates, attempt, default_timeout=default_timeout, retries=retries, backoff=backoff
    )
    opened.attempts = attempts
    return opened
