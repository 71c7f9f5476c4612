"""The clients a gateway worker shares: a burst beyond the Redis pool waits for a connection."""

import asyncio

from app.core import clients as clients_mod
from app.core.clients import Clients
from tests.utils import settings_for


async def test_a_burst_beyond_the_redis_pool_waits_instead_of_failing(upstreams, monkeypatch):
    monkeypatch.setattr(clients_mod, "REDIS_MAX_CONNECTIONS", 2)
    clients = Clients(settings_for(upstreams))
    clients.open()
    try:
        # 50 commands at once on 2 connections: each waits its turn (a plain pool would raise
        # MaxConnectionsError for all but 2, and the gateway would answer 503).
        results = await asyncio.gather(*(clients.redis.ping() for _ in range(50)))
        assert results == [True] * 50
        assert clients.redis.connection_pool.max_connections == 2
    finally:
        await clients.close()
