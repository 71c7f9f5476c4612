"""POST /v1/chat/completions: OpenAI's chat completion, routed, cached and accounted."""

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import JSONResponse, StreamingResponse

from app.api.deps import BackendsDep, caller
from app.chat import chat_completion
from app.schemas import ChatCompletionCreate
from app.streaming import chat_completion_stream

router = APIRouter(prefix="/v1", tags=["chat"])

# No proxy between here and the client may hold events back (nginx reads X-Accel-Buffering).
STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


@router.post("/chat/completions", response_model=None)
async def create_chat_completion(
    body: ChatCompletionCreate, request: Request, backends: BackendsDep
) -> JSONResponse | StreamingResponse:
    """The answer of the first model that gives one (`provider` says which, at what cost,
    from which cache, after which failed attempts); header X-Cache: miss | exact | semantic.
    With `stream: true`, OpenAI's server-sent events (app.streaming)."""
    limit = backends.settings.max_prompt_chars
    size = sum(len(m.content) for m in body.messages)
    if size > limit:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE,
            f"the messages hold {size} characters; at most {limit} (MAX_PROMPT_CHARS)",
        )
    user = caller(request, body.user)
    if body.stream:
        events, cache = await chat_completion_stream(backends, body, user)
        return StreamingResponse(
            events, media_type="text/event-stream", headers={"X-Cache": cache, **STREAM_HEADERS}
        )
    answer, cache = await chat_completion(backends, body, user)
    return JSONResponse(answer, headers={"X-Cache": cache})
