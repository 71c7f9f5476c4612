"""Login sessions in Redis, as the platform contract defines them (services/README.md).

`session:{sid}` is a hash (user_id, username, refresh_jti) living as long as a refresh token;
the gateway and this service treat a token as revoked as soon as that key is gone.
`session:{sid}:profile` caches the user's public profile for a short while, so repeated
/auth/me calls skip database-service; it is deleted together with the session.
"""

import uuid
from dataclasses import dataclass
from enum import Enum

from redis.asyncio import Redis

# Compare-and-set of the refresh token id, in one step so two refreshes cannot both win.
# A presented id that is not the current one is a replayed (stolen or leaked) refresh token:
# the whole session goes, so neither the thief nor the owner keeps a usable token.
_ROTATE = """
local current = redis.call('HGET', KEYS[1], 'refresh_jti')
if not current then
  return 0
end
if current ~= ARGV[1] then
  redis.call('DEL', KEYS[1], KEYS[2])
  return -1
end
redis.call('HSET', KEYS[1], 'refresh_jti', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
"""


def session_key(session_id: str) -> str:
    """The contract's key of a session hash."""
    return f"session:{session_id}"


def profile_key(session_id: str) -> str:
    """The key caching a session user's public profile (JSON)."""
    return f"session:{session_id}:profile"


@dataclass(frozen=True)
class Session:
    """One login: what the session hash holds."""

    id: str
    user_id: str
    username: str
    refresh_jti: str


class Rotation(Enum):
    """Outcome of presenting a refresh token id."""

    ROTATED = 1
    MISSING = 0  # session expired or logged out
    REUSED = -1  # an old refresh token: the session has just been revoked


class SessionStore:
    """Create, read, rotate and revoke sessions; cache profiles next to them."""

    def __init__(self, redis: Redis, *, ttl: int, profile_ttl: int) -> None:
        self.redis = redis
        self.ttl = ttl
        self.profile_ttl = profile_ttl
        self._rotate = redis.register_script(_ROTATE)

    async def create(self, *, user_id: str, username: str) -> Session:
        """Open a new session with a fresh refresh token id."""
        session = Session(
            id=uuid.uuid4().hex, user_id=user_id, username=username, refresh_jti=uuid.uuid4().hex
        )
        key = session_key(session.id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(
                key,
                mapping={
                    "user_id": session.user_id,
                    "username": session.username,
                    "refresh_jti": session.refresh_jti,
                },
            )
            pipe.expire(key, self.ttl)
            await pipe.execute()
        return session

    async def get(self, session_id: str) -> Session | None:
        """The live session with this id, or None once it expired or was revoked."""
        fields = await self.redis.hgetall(session_key(session_id))
        if not fields.get("user_id"):
            return None
        return Session(
            id=session_id,
            user_id=fields["user_id"],
            username=fields.get("username", ""),
            refresh_jti=fields.get("refresh_jti", ""),
        )

    async def rotate(self, session_id: str, presented_jti: str, new_jti: str) -> Rotation:
        """Replace the refresh token id if `presented_jti` is current; revoke on reuse."""
        result = await self._rotate(
            keys=[session_key(session_id), profile_key(session_id)],
            args=[presented_jti, new_jti, self.ttl],
        )
        return Rotation(int(result))

    async def revoke(self, session_id: str) -> None:
        """Delete the session and its cached profile: every token of it fails from now on."""
        await self.redis.delete(session_key(session_id), profile_key(session_id))

    async def cached_profile(self, session_id: str) -> str | None:
        """The cached profile JSON, if still fresh."""
        if self.profile_ttl <= 0:
            return None
        return await self.redis.get(profile_key(session_id))

    async def cache_profile(self, session_id: str, profile_json: str) -> None:
        """Keep a profile for `profile_ttl` seconds."""
        if self.profile_ttl > 0:
            await self.redis.set(profile_key(session_id), profile_json, ex=self.profile_ttl)
