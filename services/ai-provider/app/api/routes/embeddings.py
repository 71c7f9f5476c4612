"""POST /v1/embeddings: deep-learning's MiniLM by default, hosted models through litellm."""

import litellm
from fastapi import APIRouter, HTTPException, Request, status

from app.api.deps import BackendsDep, caller
from app.dispatch import AllCandidatesFailed, describe
from app.offline import TOKENIZER_MODEL
from app.registry import DEEP_LEARNING_EMBEDDING_ID
from app.schemas import EmbeddingsCreate

router = APIRouter(prefix="/v1", tags=["embeddings"])


@router.post("/embeddings")
async def create_embeddings(
    body: EmbeddingsCreate, request: Request, backends: BackendsDep
) -> dict:
    """One vector per input, in order (OpenAI's list of embedding objects)."""
    settings = backends.settings
    spec = backends.registry.embedding_model(body.model)
    texts: list[str] = body.input  # the validator made it a list
    if len(texts) > settings.max_embedding_inputs:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE,
            f"{len(texts)} inputs; at most {settings.max_embedding_inputs} per request",
        )
    if spec.id == DEEP_LEARNING_EMBEDDING_ID:
        # MiniLM's own tokenizer is in deep-learning; this count is OpenAI's, for accounting.
        tokens = litellm.token_counter(model=TOKENIZER_MODEL, text=texts)
        _, vectors = await backends.deep_learning.embed(texts)
    else:
        timeout = spec.timeout or settings.provider_timeout
        try:
            response = await litellm.aembedding(
                model=spec.litellm_model,
                input=texts,
                api_key=spec.api_key,
                api_base=spec.api_base,
                timeout=timeout,
                max_retries=0,
            )
        except Exception as exc:
            failure = {"model": spec.id, "provider": spec.provider, "error": describe(exc, timeout)}
            raise AllCandidatesFailed([failure], [failure]) from exc
        vectors = [item["embedding"] for item in response.data]
        usage = getattr(response, "usage", None)
        tokens = getattr(usage, "prompt_tokens", None) or litellm.token_counter(
            model=TOKENIZER_MODEL, text=texts
        )
    await backends.ledger.record(spec.id, caller(request), tokens, 0, spec.cost(tokens, 0))
    return {
        "object": "list",
        "data": [
            {"object": "embedding", "index": i, "embedding": vector}
            for i, vector in enumerate(vectors)
        ],
        "model": spec.id,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
