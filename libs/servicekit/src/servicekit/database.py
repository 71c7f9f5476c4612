"""database-service as its callers see it: where it is, one client, and a health check that
proves it accepts this service's credential.

Five services read from database-service (candles, users). Each holds one ServiceClient for
its lifetime, made by `database_client` from the settings `DatabaseServiceSettings` adds, and
reports it in /health with `check_database`: a database-service that answers /health but
refuses our INTERNAL_TOKEN serves us nothing, and that must show as down, not as ok.
"""

from collections.abc import Mapping

from pydantic import Field

from servicekit.http import ServiceClient
from servicekit.settings import ServiceSettings

# The route most callers may read (the catalog's `callers:` narrows readers to it) and a
# symbol no one stores: an empty 200 proves the credential works, at the cost of one lookup.
CANDLES_PROBE = "/market/candles"
CANDLES_PROBE_PARAMS = {"symbol": "HEALTH-PROBE", "interval": "1m", "limit": 1}


class DatabaseServiceSettings(ServiceSettings):
    """DATABASE_SERVICE_URL and DATABASE_TIMEOUT, for a service that calls database-service."""

    database_service_url: str = "http://database-service:8003"
    # Seconds one call to database-service may take (per attempt; ServiceClient retries).
    database_timeout: float = Field(default=10.0, gt=0)


def database_client(settings: DatabaseServiceSettings, *, attempts: int = 3) -> ServiceClient:
    """The pooled client, presenting this service's internal credential on every call."""
    return ServiceClient(
        settings.database_service_url,
        timeout=settings.database_timeout,
        attempts=attempts,
        internal_token=settings.internal_token,
    )


async def check_database(
    db: ServiceClient,
    probe: str = CANDLES_PROBE,
    params: Mapping[str, str | int] | None = CANDLES_PROBE_PARAMS,
    expect: int | None = 200,
) -> str | None:
    """Health: database-service is up (its /health ok or degraded) and answers `probe`, a
    route this service may call, with anything but 401/403. `expect`: the status the probe
    should get, else degraded, saying what it got (None: any other answer is fine)."""
    response = await db.get("/health")
    try:
        status = response.json().get("status")
    except (ValueError, AttributeError):
        status = None
    if response.status_code != 200 or status not in ("ok", "degraded"):
        raise RuntimeError(f"database-service /health answered {response.status_code} {status}")
    answer = await db.get(probe, params=params)
    if answer.status_code in (401, 403):
        raise RuntimeError("database-service rejects our INTERNAL_TOKEN")
    if expect is not None and answer.status_code != expect:
        return f"database-service GET {probe} answered {answer.status_code}"
    if status == "degraded":
        return "database-service reports degraded"
    return None
