"""The services a workflow calls, one pooled client each, and their health checks."""

import logging
import time
from dataclasses import dataclass

import httpx

from app.core.config import Settings
from servicekit.database import check_database
from servicekit.http import ServiceClient

log = logging.getLogger("ai-orchestration.clients")


@dataclass
class Peer:
    """A service a step calls: its client, how to bring it up when it is not running, and
    until when it is taken as not running after it could not be reached."""

    name: str
    client: ServiceClient
    tier: int
    profile: str
    down_until: float = 0.0

    def known_down(self) -> bool:
        return time.monotonic() < self.down_until

    def mark_down(self, seconds: float) -> None:
        self.down_until = time.monotonic() + seconds

    def not_running(self) -> str:
        """The reason a human reads when the service cannot be reached."""
        return (
            f"{self.name} is not running (tier {self.tier}; start it with "
            f"inv up --profile {self.profile})"
        )


# (attribute, service, the Settings field of its URL, its tier and the profile that starts it,
# from catalog.yaml): what a reason says when the service is not running.
SERVICES = (
    ("database", "database-service", "database_service_url", 1, "core"),
    ("trading", "trading-engine", "trading_engine_url", 2, "data"),
    ("ai", "ai-provider", "ai_provider_url", 3, "ai"),
    ("ml", "ml-processing", "ml_processing_url", 4, "ai"),
    ("dl", "deep-learning", "deep_learning_url", 5, "full"),
)


class Peers:
    """Opened by the lifespan (inside the serving event loop), closed at shutdown."""

    database: Peer
    trading: Peer
    ml: Peer
    dl: Peer
    ai: Peer
    by_name: dict[str, Peer]

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def open(self) -> None:
        """Create the clients (none connects until first used)."""
        s = self.settings
        for attribute, name, url_field, tier, profile in SERVICES:
            # The writer gets its own, longer timeout. Connect errors are retried by
            # ServiceClient; two attempts keep an unreachable optional service from eating a
            # large part of STEP_TIMEOUT.
            timeout = s.brief_timeout if name == "ai-provider" else s.step_timeout
            # Every peer is internal: each call carries our credential.
            client = ServiceClient(
                getattr(s, url_field), timeout=timeout, attempts=2, internal_token=s.internal_token
            )
            setattr(self, attribute, Peer(name, client, tier, profile))
        self.by_name = {p.name: p for p in (self.database, self.trading, self.ml, self.dl, self.ai)}

    async def aclose(self) -> None:
        for peer in self.by_name.values():
            await peer.client.aclose()

    async def _status(self, peer: Peer) -> tuple[int, str | None]:
        response = await peer.client.get("/health")
        try:
            status = response.json().get("status")
        except (ValueError, AttributeError):
            status = None
        return response.status_code, status

    def required_check(self, name: str):
        """A check that raises (down) when the service does not answer healthy."""

        async def check() -> str | None:
            code, status = await self._status(self.by_name[name])
            if code != 200 or status not in ("ok", "degraded"):
                raise RuntimeError(f"{name} /health answered {code} {status}")
            return f"{name} reports degraded" if status == "degraded" else None

        return check

    def optional_check(self, name: str):
        """A check that at most degrades: briefs go on without the service, saying so."""

        async def check() -> str | None:
            peer = self.by_name[name]
            try:
                code, status = await self._status(peer)
            except httpx.HTTPError:
                return peer.not_running() + "; briefs leave its part out"
            if code != 200 or status not in ("ok", "degraded"):
                return f"{name} /health answered {code} {status}; briefs may leave its part out"
            return f"{name} reports degraded" if status == "degraded" else None

        return check

    async def check_database_token(self) -> str | None:
        """database-service is healthy and accepts our internal token (else no candles)."""
        return await check_database(self.database.client)
