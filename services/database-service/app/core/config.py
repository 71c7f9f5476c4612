"""Settings of database-service, read from the environment (see services/README.md)."""

from functools import lru_cache

from pydantic import Field

from servicekit.settings import ServiceSettings

# ClickHouse database names are interpolated into DDL (no bind parameters there), so only plain
# identifiers are accepted.
IDENTIFIER = r"^[A-Za-z_][A-Za-z0-9_]{0,62}$"


class Settings(ServiceSettings):
    """Connection settings for PostgreSQL, Redis and ClickHouse, plus pool and start-up limits."""

    service_name: str = "database-service"
    port: int = 8003
    # A full tick batch (50,000 ticks, about 100 bytes each in JSON) must fit.
    max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)

    postgres_host: str = "postgres"
    postgres_port: int = Field(default=5432, ge=1, le=65535)
    postgres_user: str = "platform"
    postgres_password: str = ""
    postgres_db: str = "platform"
    # The seed sizes the pool at 35; the minimum stays small so idle replicas hold few
    # connections.
    pool_max: int = Field(default=35, ge=1, le=1000)
    pool_min: int = Field(default=2, ge=0)
    # Seconds a request waits for a free pooled connection before answering 503.
    pool_acquire_timeout: float = Field(default=5.0, gt=0)
    # Seconds any single SQL statement may run.
    postgres_command_timeout: float = Field(default=10.0, gt=0)

    redis_url: str = "redis://redis:6379/0"

    clickhouse_host: str = "clickhouse"
    clickhouse_port: int = Field(default=9000, ge=1, le=65535)
    clickhouse_user: str = "default"
    clickhouse_password: str = ""
    clickhouse_db: str = Field(default="platform", pattern=IDENTIFIER)
    # Client objects are not thread-safe: each query borrows one, so this bounds concurrency.
    clickhouse_pool_size: int = Field(default=4, ge=1, le=64)

    # Connect timeout for each attempt against any backend, in seconds.
    connect_timeout: float = Field(default=2.0, gt=0)
    # How long start-up waits for PostgreSQL (required) before giving up.
    startup_timeout: float = Field(default=60.0, gt=0)
    # How long a background task keeps retrying Redis and ClickHouse (optional) after start-up,
    # with a log line per attempt; later, their clients still reconnect on use.
    optional_startup_timeout: float = Field(default=60.0, ge=0)

    def secret_fields(self) -> tuple[str, ...]:
        return (*super().secret_fields(), "postgres_password")


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
