"""GET /stats: the prediction cache and counters."""

from fastapi import APIRouter

from app.api.deps import BackendsDep

router = APIRouter(tags=["stats"])


@router.get("/stats")
async def read_stats(backends: BackendsDep) -> dict:
    """Cache hits, misses, hit rate, size and capacity; predictions served; active version."""
    active = backends.registry.active
    return {
        "cache": backends.cache.stats(),
        "predictions": backends.predictions,
        "active_version": None if active is None else active.version,
        "versions": len(backends.registry.versions()),
    }
