"""The Redis and upstream HTTP clients each worker process shares across its requests."""

import aiohttp
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
# Upstream connections per worker process, all upstreams together; a request beyond them waits
# for one within its connect budget (then 503).
UPSTREAM_MAX_CONNECTIONS = 512
# Below uvicorn's 5 s keep-alive, so we rarely reuse a socket the upstream is closing.
UPSTREAM_KEEPALIVE = 4.0
# Headers aiohttp would add on its own: the gateway forwards what the client sent, no more.
NOT_ADDED = ("User-Agent", "Accept", "Accept-Encoding", "Content-Type")


class Clients:
    """Opened by the lifespan, closed at shutdown; reached through `request.app.state.clients`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._redis: Redis | None = None
        self._http: aiohttp.ClientSession | None = None
        self._limiter: RateLimiter | None = None

    @property
    def redis(self) -> Redis:
        if self._redis is None:
            raise RuntimeError("clients are not open (the lifespan has not run)")
        return self._redis

    @property
    def http(self) -> aiohttp.ClientSession:
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
        self._http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(
                limit=UPSTREAM_MAX_CONNECTIONS,
                limit_per_host=0,
                keepalive_timeout=UPSTREAM_KEEPALIVE,
            ),
            # connect: a free pooled connection or a new one; sock_read: any gap in an answer
            # (a stream's too). The whole exchange has its own deadline (app.proxy).
            timeout=aiohttp.ClientTimeout(total=None, connect=min(timeout, 3.0), sock_read=timeout),
            # Bodies are relayed as the upstream encoded them, so content-length holds.
            auto_decompress=False,
            # One user's Set-Cookie must never reach another's request.
            cookie_jar=aiohttp.DummyCookieJar(),
            skip_auto_headers=NOT_ADDED,
            # Internal traffic must not detour through a proxy named in the environment.
            trust_env=False,
        )
        self._limiter = RateLimiter(self._redis, settings.rate_limit_per_minute)

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
        if self._redis is not None:
            await self._redis.aclose()
        self._http = self._redis = self._limiter = None
