"""The connections user-service holds for its lifetime: Redis and database-service."""

import logging

from app.core.config import Settings
from app.core.loginguard import LoginGuard
from app.core.ratelimit import SlidingWindowLimiter
from app.core.sessions import SessionStore
from servicekit.backends import RedisAndDatabase
from servicekit.database import check_database

log = logging.getLogger("user-service.backends")

# A user id no row can have: an authenticated lookup of it proves the internal token works.
_PROBE_USER_ID = "00000000-0000-0000-0000-000000000000"


class Backends(RedisAndDatabase):
    """Sessions and rate limits in Redis (servicekit.backends: opened by the lifespan, closed
    at shutdown; /health PINGs it), accounts in database-service."""

    settings: Settings
    sessions: SessionStore
    logins: LoginGuard
    registrations: SlidingWindowLimiter

    async def open(self) -> None:
        """Create the clients (neither connects until first used) and what uses Redis."""
        await super().open()
        s = self.settings
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

    async def check_database(self) -> str | None:
        """Health: database-service is up and accepts our internal token (the probe's 404 is
        the answer it should get)."""
        return await check_database(self.db, f"/users/{_PROBE_USER_ID}", params=None, expect=None)
