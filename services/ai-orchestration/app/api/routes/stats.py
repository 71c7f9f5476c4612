"""GET /stats: slots, queue, outcomes, cache hit rate and recent latency."""

from fastapi import APIRouter

from app.api.deps import LimiterDep, StatsDep

router = APIRouter(tags=["stats"])


@router.get("/stats")
async def read_stats(limiter: LimiterDep, stats: StatsDep) -> dict:
    """This process's workflows (the service runs one worker, so all of them)."""
    return {
        "max_concurrent": limiter.max_running,
        "queue_limit": limiter.queue_limit,
        "running": limiter.running,
        "queued": limiter.queued,
        "max_running_seen": limiter.max_running_seen,
        **stats.snapshot(),
    }
