"""Everything data-bridge holds for its lifetime, started and stopped by the lifespan."""

import logging

from app.core.config import Settings
from app.core.feeds import FeedManager
from app.core.pipeline import Pipeline
from app.core.replays import ReplayManager
from servicekit.database import database_client

log = logging.getLogger("data-bridge")


class Bridge:
    """The storage client, the tick pipeline, replays and feeds."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # One attempt per call: the outbox retries a batch itself, with backoff, and a retry
        # inside ServiceClient would only add delay to that loop.
        self.client = database_client(settings, attempts=1)
        self.pipeline = Pipeline(settings, self.client)
        self.replays = ReplayManager(self.pipeline, settings.max_replays)
        self.feeds = FeedManager(self.pipeline, settings)

    async def start(self) -> None:
        await self.pipeline.start()

    async def stop(self) -> None:
        """Stop producers first, then flush (or spool) what they produced."""
        await self.feeds.stop_all()
        await self.replays.stop_all()
        await self.pipeline.stop()
        await self.client.aclose()

    async def check_database(self) -> str | None:
        """Health: database-service reachable. Degraded, not down, when it is away: ticks are
        buffered (memory, then the spool) and sent when it returns."""
        outbox = self.pipeline.outbox
        try:
            response = await self.client.get("/health")
            status = response.json().get("status") if response.status_code < 500 else None
        except Exception as exc:  # noqa: BLE001 - any failure is "away", reported as degraded
            return f"unreachable ({type(exc).__name__}), buffering {outbox.pending_ticks()} ticks"
        if response.status_code != 200 or status not in ("ok", "degraded"):
            return f"database-service /health answered {response.status_code}, buffering"
        if outbox.storage_up is False:
            return f"storage writes failing ({outbox.last_error}), buffering"
        if status == "degraded":
            return "database-service reports degraded"
        return None

    async def check_spool(self) -> str | None:
        """Health: the spool can be written (else nothing survives an outage); degraded while
        it is full and producers are held back."""
        outbox = self.pipeline.outbox
        if not outbox.spool.writable():
            raise RuntimeError(f"spool directory {outbox.spool.directory} is not writable")
        if outbox.full():
            return "buffer full: producers are held back until storage catches up"
        return None

    async def check_quarantine(self) -> str | None:
        """Health: degraded while rejected/ holds batches storage refused, from any run.

        It stays so until a person has looked at them (each has a .reason.json beside it) and
        moved them away."""
        quarantine = self.pipeline.outbox.quarantine_stats()
        if not quarantine["batches"]:
            return None
        return (
            f"{quarantine['batches']} batches ({quarantine['bytes']} bytes) refused by storage"
            f" are quarantined in {quarantine['directory']}"
        )
