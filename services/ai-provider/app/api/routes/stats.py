"""GET /stats: cache hit rate, requests and costs; for an admin also fallbacks, failures,
latencies and tracing, everyone's."""

from fastapi import APIRouter, Request

from app.api.deps import BackendsDep, caller, is_admin

router = APIRouter(tags=["stats"])


@router.get("/stats")
async def read_stats(request: Request, backends: BackendsDep) -> dict:
    """Everyone's figures to an admin, the caller's own to anyone else (both workers' alike:
    they live in Redis)."""
    if is_admin(request):
        snapshot = {"scope": "all", **await backends.ledger.snapshot()}
        snapshot["tracing"] = backends.tracing
    else:
        snapshot = await backends.ledger.user_snapshot(caller(request))
    snapshot["cache"]["semantic_enabled"] = await backends.deep_learning.available()
    return snapshot
