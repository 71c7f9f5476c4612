"""The connections user-service holds for its lifetime: Redis and database-service."""

import logging

from redis.asyncio import Redis

from app.core.config import Settings
from app.core.loginguard import LoginGuard
from app.core.ratelimit import SlidingWindowLimiter
from app.core.sessions import SessionStore
from servicekit.http import ServiceClient

log = logging.getLogger("user-service.backends")

# A user id no row can have: an authenticated lookup of it proves the internal token works.
_PROBE_USER_ID = "00000000-0000-0000-0000-000000000000"


class Backends:
    """Opened by the lifespan (inside the serving event loop), closed at shutdown."""

    redis: Redis
    db: ServiceClient
    sessions: SessionStore
    logins: LoginGuard
    registrations: SlidingWindowLimiter

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def open(self) -> None:
        """Create the clients; neither connects until first used."""
        s = self.settings
        self.redis = Redis.from_url(
            s.redis_url,
            decode_responses=True,
            socket_timeout=s.redis_timeout,
            socket_connect_timeout=s.redis_timeout,
            health_check_interval=30,
        )
        self.db = ServiceClient(
            s.database_service_url, timeout=s.database_timeout, internal_token=s.internal_token
        )
        self.sessions = SessionStore(
            self.redis, ttl=s.refresh_token_ttl, profile_ttl=s.profile_cache_ttl
        )
        self.logins = LoginGuard(self.redis, s)
        self.registrations = SlidingWindowLimiter(
            self.redis,
            prefix="register:attempts",
            limit=s.register_max_per_client,
            window=s.register_window_seconds,
        )

    async def close(self) -> None:
        await self.db.aclose()
        await self.redis.aclose()

    async def check_redis(self) -> str | None:
        """Health: Redis answers PING (sessions and rate limits live there)."""
        await self.redis.ping()
        return None

    async def check_database(self) -> str | None:
        """Health: database-service is up and accepts our internal token."""
        response = await self.db.get("/health")
        try:
            status = response.json().get("status")
        except (ValueError, AttributeError):
            status = None
        if response.status_code != 200 or status not in ("ok", "degraded"):
            raise RuntimeError(f"database-service /health answered {response.status_code} {status}")
        probe = await self.db.get(f"/users/{_PROBE_USER_ID}")
        if probe.status_code in (401, 403):
            raise RuntimeError("database-service rejects our INTERNAL_TOKEN")
        if status == "degraded":
            return "database-service reports degraded"
        return None
