"""GET /stats: cache hit rate, requests, fallbacks, failures, costs, latencies, tracing."""

from fastapi import APIRouter

from app.api.deps import BackendsDep

router = APIRouter(tags=["stats"])


@router.get("/stats")
async def read_stats(backends: BackendsDep) -> dict:
    """Counters of both workers (they live in Redis)."""
    snapshot = await backends.ledger.snapshot()
    snapshot["cache"]["semantic_enabled"] = await backends.deep_learning.available()
    snapshot["tracing"] = backends.tracing
    return snapshot
