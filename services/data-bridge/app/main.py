"""The data-bridge app: market data in (replays, feeds, POST /ticks), candles, storage, fan-out.

One process on purpose (the catalog runs one worker): the subscriber hub, replays, candle
windows and the outbox live in its memory.
"""

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app.api.main import routers
from app.core.bridge import Bridge
from app.core.config import Settings, get_settings
from app.core.series import available
from servicekit.app import create_app

log = logging.getLogger("data-bridge")

# Only the spool is critical: without database-service the bridge still ingests and buffers
# (health says "degraded"), but a spool it cannot write breaks the no-loss promise. Quarantined
# batches leave the bridge working: degraded, so that a person looks at them.
CRITICAL = {"spool"}


def build_app(settings: Settings | None = None) -> FastAPI:
    """Build the app for `settings` (the environment's by default); tests build their own."""
    settings = settings or get_settings()
    bridge = Bridge(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if not settings.internal_token:
            log.warning("INTERNAL_TOKEN is empty: database-service will refuse every batch")
        await asyncio.to_thread(available)  # read the series once, off the event loop
        await bridge.start()
        try:
            yield
        finally:
            await bridge.stop()

    app = create_app(
        settings,
        routers=routers,
        health_checks={
            "database-service": bridge.check_database,
            "spool": bridge.check_spool,
            "quarantine": bridge.check_quarantine,
        },
        critical=CRITICAL,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.bridge = bridge
    return app


app = build_app()
