"""Settings of data-bridge, read from the environment (see services/README.md)."""

import os
import tempfile
from functools import lru_cache

from pydantic import Field, model_validator

from app.core.feedpolicy import HostPattern, parse_patterns
from servicekit.database import DatabaseServiceSettings

# database-service refuses a tick batch of more than this many ticks.
STORAGE_MAX_BATCH_TICKS = 50_000


class Settings(DatabaseServiceSettings):
    """Storage, batching, spool, fan-out and validation limits."""

    service_name: str = "data-bridge"
    port: int = 8001

    # Seconds one call to database-service may take; a timeout is an unknown outcome, so the
    # batch is sent again under the same batch_id (database-service then answers duplicate).
    database_timeout: float = Field(default=10.0, gt=0)

    # A batch is cut when it holds this many ticks or its oldest tick waited this long.
    batch_max_ticks: int = Field(default=2000, ge=1, le=STORAGE_MAX_BATCH_TICKS)
    batch_max_seconds: float = Field(default=0.5, gt=0)
    # Ticks held in memory waiting for storage; past this, the oldest batches go to disk.
    buffer_max_ticks: int = Field(default=20_000, ge=1)
    spool_dir: str = os.path.join(tempfile.gettempdir(), "data-bridge-spool")
    # Bound of everything buffered (memory and disk) so that a shutdown can always spool it.
    spool_max_mb: float = Field(default=256, gt=0)
    # Accepted ticks are fsync'd to the journal before they are acknowledged (202, or counted
    # by a replay or feed). Off only to measure what durability costs (`nox -s bench`).
    durable_intake: bool = True
    # Seconds a shutdown keeps sending before it spools what is left.
    shutdown_flush_seconds: float = Field(default=5.0, ge=0)
    # Longest pause between two attempts while storage is down.
    storage_retry_max_seconds: float = Field(default=2.0, gt=0)
    # A batch answered 500 (or another 5xx but 502/503/504) this many times in a row is taken
    # to break storage and is quarantined so that the batches behind it flow. 5 attempts span
    # about 1.5 s of backoff: long enough for a passing fault, short enough not to pile up.
    # 502/503/504, timeouts and refused connections (storage away) are retried forever.
    poison_after_failures: int = Field(default=5, ge=1)

    # Per-subscriber queue of the WebSocket fan-out; overflow drops the oldest message.
    fanout_queue: int = Field(default=256, ge=1)
    max_subscribers: int = Field(default=2000, ge=1)
    # Largest message a WebSocket subscriber may send us (subscribe/unsubscribe).
    ws_max_message_bytes: int = Field(default=65_536, ge=256)

    # A tick older than its symbol's newest accepted tick by more than this is rejected.
    out_of_order_tolerance_ms: int = Field(default=60_000, ge=0)
    # A live tick (POST /ticks, feeds; not replays) dated more than this ahead of our clock is
    # rejected as `future`. 60 s: far above the skew of any synchronized clock (NTP keeps
    # milliseconds) and of a feed's latency, so a real producer is never refused; and no more
    # than OUT_OF_ORDER_TOLERANCE_MS, so the furthest-ahead tick still accepted cannot move a
    # watermark far enough to refuse the real ticks that follow it.
    max_future_ms: int = Field(default=60_000, ge=0)
    # Symbols accepted besides the series' own, those replays target and feeds declare
    # (comma-separated), e.g. for producers that POST /ticks.
    known_symbols: str = ""
    max_symbols: int = Field(default=10_000, ge=1)
    # Ticks one POST /ticks may carry.
    max_ticks_per_request: int = Field(default=50_000, ge=1)

    # An upstream feed message larger than this is rejected as oversized (the feed goes on);
    # a frame over 16 times this closes the connection, which then reconnects.
    feed_max_message_bytes: int = Field(default=65_536, ge=256)
    feed_backoff_initial: float = Field(default=0.2, gt=0)
    feed_backoff_max: float = Field(default=10.0, gt=0)
    max_feeds: int = Field(default=64, ge=1)
    # Hosts feeds may connect to (comma-separated host, host:port, *.domain; see feedpolicy):
    # feed URLs come from callers, so nothing is allowed until an operator names the upstreams.
    feed_allowed_hosts: str = ""
    # Allow feeds to internal addresses and names (loopback, private, service names, ...):
    # only where every caller may reach the stack's network anyway, like the test suite.
    feed_allow_private: bool = False
    max_replays: int = Field(default=64, ge=1)

    @property
    def spool_max_bytes(self) -> int:
        return int(self.spool_max_mb * 1024 * 1024)

    def declared_symbols(self) -> list[str]:
        """KNOWN_SYMBOLS as a list (upper-cased, blanks dropped)."""
        return [name.strip().upper() for name in self.known_symbols.split(",") if name.strip()]

    def feed_host_patterns(self) -> tuple[HostPattern, ...]:
        """FEED_ALLOWED_HOSTS parsed (checked at start-up, so this does not raise)."""
        return parse_patterns(self.feed_allowed_hosts)

    @model_validator(mode="after")
    def _check_consistency(self) -> "Settings":
        if self.feed_backoff_max < self.feed_backoff_initial:
            raise ValueError("FEED_BACKOFF_MAX must not be shorter than FEED_BACKOFF_INITIAL")
        parse_patterns(self.feed_allowed_hosts)  # a bad pattern stops the start, naming it
        return self


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
