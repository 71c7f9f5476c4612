"""Reading health is cheap: the checks run in the background (servicekit.health), so any number
of GET /health asks no dependency anything more.

Counted, not timed: Redis counts the PINGs it answers, and every service's health check of
Redis is a PING. Before, one gateway /health cost a PING of its own and one per service behind
it that checks Redis (user-service, trading-engine, ai-provider, ai-orchestration...): four or
more per read. Now the stack's PINGs go on at the checkers' pace whoever reads.
"""

import re
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from servicekit.settings import ServiceSettings
from tests.e2e.conftest import GATEWAY
from toolkit import catalog, stack

pytestmark = pytest.mark.docker

READS = 300  # per target; /health is not rate limited at the gateway
READERS = 8
INTERVAL = ServiceSettings.model_fields["health_interval"].default  # compose keeps the default


def redis_pings() -> int:
    """How many PINGs Redis has answered since it started (INFO commandstats)."""
    info = stack.compose(["core"]).compose.execute(
        "redis",
        ["sh", "-c", 'redis-cli --no-auth-warning -a "$REDIS_PASSWORD" INFO commandstats'],
        tty=False,
    )
    found = re.search(r"^cmdstat_ping:calls=(\d+)", info, re.MULTILINE)
    return int(found.group(1)) if found else 0


def read_health(url: str, reads: int) -> list[httpx.Response]:
    """`reads` GET /health from READERS threads at once."""

    def reader(count: int) -> list[httpx.Response]:
        with httpx.Client(timeout=10, trust_env=False) as client:
            return [client.get(f"{url}/health") for _ in range(count)]

    with ThreadPoolExecutor(READERS) as pool:
        shares = [reads // READERS + (i < reads % READERS) for i in range(READERS)]
        return [answer for batch in pool.map(reader, shares) for answer in batch]


def test_health_reports_when_it_was_checked(gateway: httpx.Client) -> None:
    report = gateway.get("/health").json()
    assert report["service"] == "api-gateway" and report["checked_at"]
    assert 0 <= report["age_s"] <= 3 * INTERVAL + 2
    assert report["checks"]["redis"]["status"] == "ok"


def test_reading_health_costs_no_dependency_call() -> None:
    cat = catalog.load()
    user_service = stack.service_url(cat.service("user-service"))
    workers = cat.service("api-gateway").workers

    # The stack's own pace: every checker of every service, nobody reading.
    quiet_from, quiet_start = redis_pings(), time.monotonic()
    time.sleep(3)
    quiet_pings, quiet_s = redis_pings() - quiet_from, time.monotonic() - quiet_start

    busy_from, busy_start = redis_pings(), time.monotonic()
    through_gateway = read_health(GATEWAY, READS)
    behind_it = read_health(user_service, READS)
    busy_pings, busy_s = redis_pings() - busy_from, time.monotonic() - busy_start

    assert {a.status_code for a in through_gateway + behind_it} == {200}
    extra = busy_pings - quiet_pings * busy_s / quiet_s
    reads = len(through_gateway) + len(behind_it)
    # Before: four PINGs or more per gateway read and one per user-service read. Allowed: one
    # per ten reads, room for the checkers' own jitter and other clients of Redis.
    assert extra < reads / 10, (busy_pings, quiet_pings, busy_s, quiet_s)
    # And every gateway answer came from a round of its workers' checkers.
    rounds = {a.json()["checked_at"] for a in through_gateway}
    assert len(rounds) <= workers * (busy_s / INTERVAL + 2), (len(rounds), busy_s)
