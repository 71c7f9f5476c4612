"""One chat completion: route, cache lookup, the models tried in turn, accounting, storage."""

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import litellm

from app.cache import exact_key, partition, scope_of, semantic_text
from app.core.backends import Backends
from app.dispatch import AllCandidatesFailed, Answer, ChatParams, complete
from app.offline import TOKENIZER_MODEL
from app.router import Route, plan
from app.schemas import ChatCompletionCreate

T = TypeVar("T")


def openai_body(answer: Answer) -> dict:
    """The OpenAI chat.completion object; `model` is the id that answered."""
    response = answer.response
    return {
        "id": response.id,
        "object": "chat.completion",
        "created": int(response.created),
        "model": answer.spec.id,
        "choices": [
            {
                "index": choice.index,
                "message": {"role": "assistant", "content": choice.message.content or ""},
                "finish_reason": choice.finish_reason or "stop",
            }
            for choice in response.choices
        ],
        "usage": {
            "prompt_tokens": answer.prompt_tokens,
            "completion_tokens": answer.completion_tokens,
            "total_tokens": answer.prompt_tokens + answer.completion_tokens,
        },
    }


def params_of(body: ChatCompletionCreate, user: str) -> ChatParams:
    return ChatParams(
        messages=[{"role": m.role, "content": m.content} for m in body.messages],
        temperature=body.temperature,
        max_tokens=body.max_tokens,
        top_p=body.top_p,
        stop=body.stop,
        user=user,
        task=body.task,
    )


async def route_for(backends: Backends, body: ChatCompletionCreate, params: ChatParams) -> Route:
    prompt_tokens = litellm.token_counter(model=TOKENIZER_MODEL, messages=params.messages)
    return plan(
        backends.registry,
        model=body.model,
        task=body.task,
        prompt_tokens=prompt_tokens,
        max_tokens=body.max_tokens or backends.settings.default_max_tokens,
        max_cost_usd=body.max_cost_usd,
        prefer=body.prefer,
        fallback=body.fallback,
        latency=await backends.ledger.latencies(),
    )


def _provider_block(backends: Backends, body: dict, **fields) -> dict:
    spec = backends.registry.chat.get(body["model"])
    return {
        "model": body["model"],
        "provider": spec.provider if spec else "unknown",
        **fields,
    }


@dataclass
class Lookup:
    """A request's route and its cache state: the hit, or where a new answer is stored."""

    params: ChatParams
    route: Route
    started: float
    hit: dict | None = None
    kind: str = "miss"
    key: str | None = None
    partition_name: str | None = None
    vector: list[float] | None = None


async def look_up(backends: Backends, body: ChatCompletionCreate, user: str) -> Lookup:
    """Route the request, count it, and look for a cached answer (exact, then semantic)."""
    settings, cache, ledger = backends.settings, backends.cache, backends.ledger
    started = time.perf_counter()
    params = params_of(body, user)
    route = await route_for(backends, body, params)
    await ledger.count("requests", user=user)
    found = Lookup(params, route, started)
    if not body.cache:
        return found
    scope = scope_of(user, body.cache_scope)
    found.key = exact_key(route.ids, params, scope=scope)
    hit = await cache.exact(found.key)
    text = semantic_text(params)
    if hit is None and len(text) <= settings.semantic_max_chars:
        found.vector = await backends.deep_learning.vector(text)
        if found.vector is not None:
            found.partition_name = partition(route.ids, params, scope=scope)
            hit = await cache.semantic(
                found.partition_name, found.vector, settings.semantic_threshold
            )
    if hit is None:
        await ledger.count("misses", user=user)
        return found
    await ledger.count(f"{hit.kind}_hits", user=user)
    extra = {"similarity": round(hit.similarity, 4)} if hit.kind == "semantic" else {}
    provider = _provider_block(
        backends,
        hit.body,
        cache=hit.kind,
        cost_usd=0.0,
        latency_ms=round((time.perf_counter() - started) * 1000, 2),
        attempts=[],
        **extra,
    )
    found.hit, found.kind = {**hit.body, "provider": provider}, hit.kind
    return found


async def settle(backends: Backends, found: Lookup, answer: Answer, result: dict) -> dict:
    """Account a model's answer (`result`, the OpenAI body), store it in the cache when the
    first candidate gave it, and return its `provider` block."""
    ledger = backends.ledger
    await ledger.failed(answer.attempts)
    first = answer.spec.id == found.route.candidates[0].id
    if not first:
        await ledger.count("fallbacks")
    user = found.params.user
    await ledger.record(
        answer.spec.id, user, answer.prompt_tokens, answer.completion_tokens, answer.cost_usd
    )
    await ledger.observe_latency(answer.spec.id, answer.latency_ms)
    # A fallback's answer is not cached: the preferred model may be back for the next request.
    if found.key is not None and first:
        await backends.cache.store(found.key, result, found.partition_name, found.vector)
    return _provider_block(
        backends,
        result,
        cache="miss",
        cost_usd=round(answer.cost_usd, 10),
        latency_ms=round((time.perf_counter() - found.started) * 1000, 2),
        attempts=answer.attempts,
    )


async def dispatch(backends: Backends, found: Lookup, send: Callable[..., Awaitable[T]]) -> T:
    """The route's candidates tried in turn by `send` (dispatch's `complete`, or `stream`) with
    the service's timeout and retry settings; when none answered, their failures accounted
    before AllCandidatesFailed goes on."""
    settings = backends.settings
    try:
        return await send(
            found.route.candidates,
            found.params,
            default_timeout=settings.provider_timeout,
            retries=settings.provider_retries,
            backoff=settings.retry_backoff,
        )
    except AllCandidatesFailed as exc:
        await backends.ledger.failed(exc.attempts)
        raise


async def chat_completion(
    backends: Backends, body: ChatCompletionCreate, user: str
) -> tuple[dict, str]:
    """The answer (OpenAI body plus `provider`) and its cache state: miss, exact, semantic."""
    found = await look_up(backends, body, user)
    if found.hit is not None:
        return found.hit, found.kind
    answer = await dispatch(backends, found, complete)
    result = openai_body(answer)
    provider = await settle(backends, found, answer, result)
    return {**result, "provider": provider}, "miss"
