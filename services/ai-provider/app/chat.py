"""One chat completion: route, cache lookup, the models tried in turn, accounting, storage."""

import time

import litellm

from app.cache import exact_key, partition, scope_of, semantic_text
from app.core.backends import Backends
from app.dispatch import AllCandidatesFailed, Answer, ChatParams, complete
from app.offline import TOKENIZER_MODEL
from app.router import Route, plan
from app.schemas import ChatCompletionCreate


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


async def chat_completion(
    backends: Backends, body: ChatCompletionCreate, user: str
) -> tuple[dict, str]:
    """The answer (OpenAI body plus `provider`) and its cache state: miss, exact, semantic."""
    settings, cache, ledger = backends.settings, backends.cache, backends.ledger
    started = time.perf_counter()
    params = params_of(body, user)
    route = await route_for(backends, body, params)
    await ledger.count("requests", user=user)

    key = partition_name = vector = None
    if body.cache:
        scope = scope_of(user, body.cache_scope)
        key = exact_key(route.ids, params, scope=scope)
        hit = await cache.exact(key)
        text = semantic_text(params)
        if hit is None and len(text) <= settings.semantic_max_chars:
            vector = await backends.deep_learning.vector(text)
            if vector is not None:
                partition_name = partition(route.ids, params, scope=scope)
                hit = await cache.semantic(partition_name, vector, settings.semantic_threshold)
        if hit is not None:
            await ledger.count(f"{hit.kind}_hits", user=user)
            extra = {"similarity": round(hit.similarity, 4)} if hit.kind == "semantic" else {}
            elapsed = round((time.perf_counter() - started) * 1000, 2)
            provider = _provider_block(
                backends,
                hit.body,
                cache=hit.kind,
                cost_usd=0.0,
                latency_ms=elapsed,
                attempts=[],
                **extra,
            )
            return {**hit.body, "provider": provider}, hit.kind
        await ledger.count("misses", user=user)

    try:
        answer = await complete(
            route.candidates,
            params,
            default_timeout=settings.provider_timeout,
            retries=settings.provider_retries,
            backoff=settings.retry_backoff,
        )
    except AllCandidatesFailed as exc:
        await ledger.failed(exc.attempts)
        raise
    await ledger.failed(answer.attempts)
    first = answer.spec.id == route.candidates[0].id
    if not first:
        await ledger.count("fallbacks")
    await ledger.record(
        answer.spec.id, user, answer.prompt_tokens, answer.completion_tokens, answer.cost_usd
    )
    await ledger.observe_latency(answer.spec.id, answer.latency_ms)

    result = openai_body(answer)
    # A fallback's answer is not cached: the preferred model may be back for the next request.
    if key is not None and first:
        await cache.store(key, result, partition_name, vector)
    provider = _provider_block(
        backends,
        result,
        cache="miss",
        cost_usd=round(answer.cost_usd, 10),
        latency_ms=round((time.perf_counter() - started) * 1000, 2),
        attempts=answer.attempts,
    )
    return {**result, "provider": provider}, "miss"
