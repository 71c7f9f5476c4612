"""The Redis and upstream HTTP clients each worker process shares across its requests."""

from http.cookiejar import CookieJar

import httpx
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from app.core.config import Settings
from app.ratelimit import RateLimiter

# Redis answers in well under a millisecond; waiting longer only delays fail-open/fail-closed.
REDIS_TIMEOUT = 0.5
# Connections per worker process. A burst of requests beyond it (200 WebSocket handshakes at
# once, each checking the rate limit and the session) waits up to REDIS_POOL_WAIT for a free
# connection instead of failing: redis-py's default pool refuses at once ("Too many
# connections"), which the gateway would turn into 503s.
REDIS_MAX_CONNECTIONS = 64
REDIS_POOL_WAIT = 2.0


class _DiscardingJar(CookieJar):
    """A cookie jar that keeps nothing: one user's Set-Cookie must never reach another's request."""

    def extract_cookies(self, response, request) -> None:  # type: ignore[override]
        return None

    def set_cookie(self, cookie) -> None:  # type: ignore[override]
        return None


class Clients:
    """Opened by the lifespan, closed at shutdown; reached through `request.app.state.clients`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._redis: Redis | None = None
        self._http: httpx.AsyncClient | None = None
        self._limiter: RateLimiter | None = None

    @property
    def redis(self) -> Redis:
        if self._redis is None:
            raise RuntimeError("clients are not open (the lifespan has not run)")
        return self._redis

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            raise RuntimeError("clients are not open (the lifespan has not run)")
        return self._http

    @property
    def limiter(self) -> RateLimiter:
        if self._limiter is None:
            raise RuntimeError("clients are not open (the lifespan has not run)")
        return self._limiter

    def open(self) -> None:
        settings = self.settings
        pool = BlockingConnectionPool.from_url(
            settings.redis_url,
            max_connections=REDIS_MAX_CONNECTIONS,
            timeout=REDIS_POOL_WAIT,
            socket_timeout=REDIS_TIMEOUT,
            socket_connect_timeout=REDIS_TIMEOUT,
            # One quick retry covers a connection Redis dropped; the default backs off for
            # seconds, which would stall every request while Redis is down.
            retry=Retry(NoBackoff(), 1),
            health_check_interval=30,
        )
        self._redis = Redis.from_pool(pool)  # closing the client closes its pool
        timeout = settings.upstream_timeout
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 3.0)),
            # Below uvicorn's 5 s keep-alive, so we rarely reuse a socket the upstream is closing.
            limits=httpx.Limits(
                max_connections=512, max_keepalive_connections=128, keepalive_expiry=4.0
            ),
            follow_redirects=False,
            # Internal traffic must not detour through a proxy named in the environment.
            trust_env=False,
            cookies=_DiscardingJar(),
        )
        self._limiter = RateLimiter(self._redis, settings.rate_limit_per_minute)

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()
        if self._redis is not None:
            await self._redis.aclose()
        self._http = self._redis = self._limiter = None
