"""Limits on failed logins, in Redis so every worker and replica agrees.

Three sliding windows count failures: per (account, client), so guesses from elsewhere never
lock the owner's client out; per client over all accounts, against one client trying many;
per account over all clients, a high ceiling for guesses spread over many addresses, which
the clients that logged in to the account recently pass anyway. Successes count nowhere.

An attempt reserves its place in the windows before its password is checked, so parallel
guesses cannot overrun a limit, and a refused attempt never costs a bcrypt check. The check
settles it: a failure stays counted; a success takes its place back, forgives the client's
own failures on the account and marks the client as known to it.
"""

import uuid
from dataclasses import dataclass

from redis.asyncio import Redis

from app.core.config import Settings
from app.core.ratelimit import retry_seconds

# An owner logs in from a handful of addresses; beyond these, the longest unseen are dropped.
MAX_KNOWN_CLIENTS = 20
REASONS = (
    "too many failed logins from this address",
    "too many failed logins for this account from this address",
    "too many failed logins for this account",
)

# KEYS: client, (account, client), account windows; the account's known clients (by time).
# ARGV: the three limits, window ms, this attempt's token, the client, known-for ms.
# Answers {0, 0} when recorded, else {the refusing window (1-3), ms until a place frees}.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[4])
local function wait(key, limit)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local count = redis.call('ZCARD', key)
  if count < limit then return nil end
  local entry = redis.call('ZRANGE', key, count - limit, count - limit, 'WITHSCORES')
  return tonumber(entry[2]) + window - now
end
local last = 3
local seen = redis.call('ZSCORE', KEYS[4], ARGV[6])
if seen and tonumber(seen) > now - tonumber(ARGV[7]) then last = 2 end
for i = 1, last do
  local ms = wait(KEYS[i], tonumber(ARGV[i]))
  if ms then return {i, ms} end
end
for i = 1, 3 do
  redis.call('ZADD', KEYS[i], now, ARGV[5])
  redis.call('PEXPIRE', KEYS[i], window)
end
return {0, 0}
"""
# KEYS as above; ARGV: the token, the client, known-for ms, how many known clients to keep.
_SUCCEEDED = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('DEL', KEYS[2])
redis.call('ZADD', KEYS[4], now, ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now - tonumber(ARGV[3]))
redis.call('ZREMRANGEBYRANK', KEYS[4], 0, -(tonumber(ARGV[4]) + 1))
redis.call('PEXPIRE', KEYS[4], ARGV[3])
return 1
"""


@dataclass(frozen=True)
class Attempt:
    """A login attempt's place in the windows, or why it has none and for how long."""

    allowed: bool
    token: str = ""
    reason: str = ""
    retry_after: int = 0


class LoginGuard:
    """Reserve, then settle, a login attempt of `client` on `account` (see the module)."""

    def __init__(self, redis: Redis, settings: Settings) -> None:
        self.redis = redis
        self.limits = (
            settings.login_max_failures_per_client,
            settings.login_max_failures_per_account_and_client,
            settings.login_max_failures_per_account,
        )
        self.window_ms = settings.login_window_seconds * 1000
        self.known_for_ms = settings.login_known_client_seconds * 1000
        self._acquire = redis.register_script(_ACQUIRE)
        self._succeeded = redis.register_script(_SUCCEEDED)

    @staticmethod
    def keys(account: str, client: str) -> list[str]:
        # The client key keeps its name of old: tests/e2e forgets `login:attempts:*` per run.
        return [
            f"login:attempts:{client}",
            f"login:pair:{client}|{account}",
            f"login:failures:{account}",
            f"login:known:{account}",
        ]

    async def acquire(self, account: str, client: str) -> Attempt:
        """Reserve the attempt's place in every window, unless one of them is full."""
        token = uuid.uuid4().hex
        args = [*self.limits, self.window_ms, token, client, self.known_for_ms]
        refused, wait_ms = await self._acquire(keys=self.keys(account, client), args=args)
        if not refused:
            return Attempt(allowed=True, token=token)
        return Attempt(
            allowed=False, reason=REASONS[int(refused) - 1], retry_after=retry_seconds(wait_ms)
        )

    async def succeeded(self, account: str, client: str, token: str) -> None:
        """The password was right: no failure to count, and `client` is known to `account`."""
        args = [token, client, self.known_for_ms, MAX_KNOWN_CLIENTS]
        await self._succeeded(keys=self.keys(account, client), args=args)

    async def release(self, account: str, client: str, token: str) -> None:
        """Take the attempt's place back without judging it (a disabled account)."""
        async with self.redis.pipeline(transaction=True) as pipe:
            for key in self.keys(account, client)[:3]:
                pipe.zrem(key, token)
            await pipe.execute()
