"""GET /stats: what the bridge accepted, rejected, buffered, stored and fanned out.

`accepted` / `rejected` (by reason) count ticks since start; `pending` is accepted ticks not
yet confirmed by storage (not yet batched, in memory or spooled); `spooled` the part of them on
disk; `stored` the ticks storage confirmed (a batch answered `duplicate` counts: it is stored,
once); `subscribers` the open WebSockets and `dropped` the messages they lost to the
slow-subscriber policy. `storage` is up, down or unknown (nothing sent yet) and `backpressure`
true while producers are held back. `batches.rejected` counts the batches this process
quarantined; `quarantine` what the spool's rejected/ holds, from this run and earlier ones
(`batches`, `bytes`, `directory`) and how many of this run's were `poisoned` (a 5xx again and
again rather than a 4xx).
"""

from fastapi import APIRouter

from app.api.deps import BridgeDep

router = APIRouter(tags=["stats"])


@router.get("/stats")
async def stats(bridge: BridgeDep) -> dict:
    report = bridge.pipeline.stats()
    report["quarantine"] = bridge.pipeline.outbox.quarantine_stats()
    report["replays"] = bridge.replays.running()
    report["feeds"] = len(bridge.feeds.feeds)
    return report
