"""Versioned SQL migrations, applied once each at start-up.

Files in app/migrations/ are named ``NNNN_description.sql`` and applied in version order, each in
its own transaction together with its row in ``schema_migrations``, so a failing file leaves no
trace and is retried at the next start. The whole run holds a PostgreSQL advisory lock: replicas
starting together queue up instead of racing, and the later ones find nothing left to do.
"""

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg

log = logging.getLogger("app.migrations")

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
FILENAME = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)\.sql$")
# Arbitrary but fixed: every replica must use the same key. (ASCII "dbsvcmig".)
LOCK_KEY = 0x64627376636D6967

CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Read the migration files, sorted by version; refuses stray names and duplicate versions."""
    migrations: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = FILENAME.match(path.name)
        if match is None:
            raise ValueError(f"migration file {path.name!r} is not named NNNN_description.sql")
        version = int(match["version"])
        if version in migrations:
            raise ValueError(f"two migration files share version {version:04d}")
        migrations[version] = Migration(version, match["name"], path.read_text(encoding="utf-8"))
    return [migrations[v] for v in sorted(migrations)]


async def apply(
    conn: asyncpg.Connection, directory: Path = MIGRATIONS_DIR, max_seconds: float = 60.0
) -> list[int]:
    """Apply every migration not yet recorded; returns the versions applied by this call.

    ``max_seconds`` bounds the wait for the lock and each file, instead of the pool's per-statement
    limit, which is sized for API queries rather than for DDL on a large table.
    """
    migrations = load(directory)
    # Session-level lock: released explicitly below, or by PostgreSQL if this connection dies.
    await conn.execute("SELECT pg_advisory_lock($1)", LOCK_KEY, timeout=max_seconds)
    try:
        await conn.execute(CREATE_TABLE)
        applied = {
            row["version"]: row["checksum"]
            for row in await conn.fetch("SELECT version, checksum FROM schema_migrations")
        }
        done: list[int] = []
        for migration in migrations:
            if migration.version in applied:
                if applied[migration.version] != migration.checksum:
                    # Editing an applied file changes nothing in the database; say so loudly.
                    log.warning(
                        "migration %04d_%s changed after it was applied; add a new file instead",
                        migration.version,
                        migration.name,
                    )
                continue
            try:
                async with conn.transaction():
                    await conn.execute(migration.sql, timeout=max_seconds)
                    await conn.execute(
                        "INSERT INTO schema_migrations (version, name, checksum) "
                        "VALUES ($1, $2, $3)",
                        migration.version,
                        migration.name,
                        migration.checksum,
                    )
            except Exception:
                log.error(
                    "migration %04d_%s failed and was rolled back; later files were not tried",
                    migration.version,
                    migration.name,
                )
                raise
            log.info("applied migration %04d_%s", migration.version, migration.name)
            done.append(migration.version)
        return done
    finally:
        # A dead connection already lost the lock; unlocking it would only mask the real error.
        if not conn.is_closed():
            await conn.execute("SELECT pg_advisory_unlock($1)", LOCK_KEY)
