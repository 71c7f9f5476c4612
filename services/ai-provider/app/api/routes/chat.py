"""POST /v1/chat/completions: OpenAI's chat completion, routed, cached and accounted."""

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import JSONResponse

from app.api.deps import BackendsDep, caller
from app.chat import chat_completion
from app.schemas import ChatCompletionCreate

router = APIRouter(prefix="/v1", tags=["chat"])


@router.post("/chat/completions")
async def create_chat_completion(
    body: ChatCompletionCreate, request: Request, backends: BackendsDep
) -> JSONResponse:
    """The answer of the first model that gives one (`provider` says which, at what cost,
    from which cache, after which failed attempts); header X-Cache: miss | exact | semantic."""
    limit = backends.settings.max_prompt_chars
    size = sum(len(m.content) for m in body.messages)
    if size > limit:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE,
            f"the messages hold {size} characters; at most {limit} (MAX_PROMPT_CHARS)",
        )
    answer, cache = await chat_completion(backends, body, caller(request, body.user))
    return JSONResponse(answer, headers={"X-Cache": cache})
