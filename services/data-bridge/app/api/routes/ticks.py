"""POST /ticks: ticks pushed over HTTP, validated like any other source.

The body is parsed here rather than by a pydantic model: a malformed tick must be counted and
skipped, not fail the whole request with 422, and 50,000 small models would cost more than the
checks themselves. `{"ticks": [...], "source"?: "..."}`; `source` (default `api`) names the
producer run in storage, like `replay:<id>`.
"""

import re

from fastapi import APIRouter, HTTPException, Request, status

from app.api.deps import PipelineDep, SettingsDep, busy
from app.core.feeds import decode
from app.schemas import SOURCE_PATTERN, TicksAccepted

router = APIRouter(tags=["ticks"])

_SOURCE = re.compile(SOURCE_PATTERN)


@router.post("/ticks", status_code=status.HTTP_202_ACCEPTED, response_model=TicksAccepted)
async def post_ticks(request: Request, pipeline: PipelineDep, settings: SettingsDep) -> dict:
    """Accept valid ticks, count the others by reason; 202 only once the accepted ticks are
    on disk (the journal). 503 + Retry-After while the buffer is full (nothing is taken then,
    so the caller can resend the same request) or when the journal cannot be written."""
    if pipeline.outbox.full():
        raise busy("buffer full while storage catches up; retry later")
    body = await request.body()
    try:
        data = decode(body)
    except (ValueError, RecursionError):
        pipeline.reject("bad_json")
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "request body is not valid JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("ticks"), list):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, 'expected {"ticks": [...]}')
    ticks = data["ticks"]
    if len(ticks) > settings.max_ticks_per_request:
        pipeline.reject("oversized", count=len(ticks))
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE,
            f"at most {settings.max_ticks_per_request} ticks per request",
        )
    source = data.get("source", "api")
    if not isinstance(source, str) or not _SOURCE.fullmatch(source):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, f"source must match {SOURCE_PATTERN}"
        )
    try:
        tally = await pipeline.ingest(ticks, source)
    except OSError as exc:  # not on disk, so not acknowledged
        raise busy(f"cannot make the ticks durable ({exc.strerror or exc}); retry later") from None
    return tally.public()
