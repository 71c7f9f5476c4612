"""Migrations: applied once, idempotent across starts, serialized between replicas, atomic."""

import asyncio
import logging
import uuid
from pathlib import Path

import asyncpg
import pytest
from fastapi.testclient import TestClient

import servicekit_testing as testing
from app.core import migrations
from app.core.config import Settings
from app.main import build_app
from tests.utils import pg_connect, run


def test_the_shipped_migrations_load() -> None:
    loaded = migrations.load()
    assert [m.version for m in loaded][:2] == [1, 2]
    assert [m.name for m in loaded][:2] == ["users", "user_roles"]


def test_load_refuses_stray_names_and_duplicate_versions(tmp_path: Path) -> None:
    (tmp_path / "0001_a.sql").write_text("SELECT 1;")
    (tmp_path / "1_b.sql").write_text("SELECT 1;")
    with pytest.raises(ValueError, match="not named"):
        migrations.load(tmp_path)
    (tmp_path / "1_b.sql").unlink()
    (tmp_path / "0001_c.sql").write_text("SELECT 1;")
    with pytest.raises(ValueError, match="share version"):
        migrations.load(tmp_path)


def test_starting_twice_applies_nothing_new(settings: Settings) -> None:
    async def applied() -> dict[int, object]:
        conn = await pg_connect(settings)
        try:
            rows = await conn.fetch("SELECT version, applied_at FROM schema_migrations")
            return {row["version"]: row["applied_at"] for row in rows}
        finally:
            await conn.close()

    with TestClient(build_app(settings), headers=testing.internal_headers()):
        pass
    first = run(applied)
    with TestClient(build_app(settings), headers=testing.internal_headers()):
        pass
    assert run(applied) == first
    assert set(first) == {m.version for m in migrations.load()}


class Scratch:
    """A throwaway schema, so runner tests get their own schema_migrations table."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.schema = f"mig_test_{uuid.uuid4().hex[:12]}"

    async def connect(self) -> asyncpg.Connection:
        return await pg_connect(self.settings, server_settings={"search_path": self.schema})

    async def __aenter__(self) -> "Scratch":
        conn = await pg_connect(self.settings)
        await conn.execute(f'CREATE SCHEMA "{self.schema}"')
        await conn.close()
        return self

    async def __aexit__(self, *exc: object) -> None:
        conn = await pg_connect(self.settings)
        await conn.execute(f'DROP SCHEMA "{self.schema}" CASCADE')
        await conn.close()


def test_concurrent_runs_apply_each_file_once(settings: Settings, tmp_path: Path) -> None:
    (tmp_path / "0001_counter.sql").write_text("CREATE TABLE counter (n integer NOT NULL);")
    # Slow enough that runners overlap; without the lock several would insert a row.
    (tmp_path / "0002_bump.sql").write_text("SELECT pg_sleep(0.2); INSERT INTO counter VALUES (1);")

    async def scenario() -> tuple[list[list[int]], int, int]:
        async with Scratch(settings) as scratch:
            conns = [await scratch.connect() for _ in range(4)]
            try:
                results = await asyncio.gather(
                    *(migrations.apply(conn, tmp_path) for conn in conns)
                )
                rows = await conns[0].fetchval("SELECT count(*) FROM counter")
                recorded = await conns[0].fetchval("SELECT count(*) FROM schema_migrations")
            finally:
                for conn in conns:
                    await conn.close()
        return list(results), rows, recorded

    results, rows, recorded = run(scenario)
    assert sorted(v for applied in results for v in applied) == [1, 2]
    assert rows == 1
    assert recorded == 2


def test_a_failing_file_leaves_no_trace_and_is_retried(
    settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "0001_ok.sql").write_text("CREATE TABLE kept (x integer);")
    bad = tmp_path / "0002_bad.sql"
    bad.write_text("CREATE TABLE half (x integer); SELECT no_such_function();")

    async def scenario() -> None:
        async with Scratch(settings) as scratch:
            conn = await scratch.connect()
            try:
                with pytest.raises(asyncpg.UndefinedFunctionError):
                    await migrations.apply(conn, tmp_path)
                assert await conn.fetchval("SELECT array_agg(version) FROM schema_migrations") == [
                    1
                ]
                assert await conn.fetchval("SELECT to_regclass('half')") is None
                # The lock was released despite the failure: another session (a replica
                # restarting) gets it at once, and a fixed file goes through.
                bad.write_text("CREATE TABLE half (x integer);")
                other = await scratch.connect()
                try:
                    assert await migrations.apply(other, tmp_path, max_seconds=5) == [2]
                    assert await migrations.apply(other, tmp_path, max_seconds=5) == []
                    # Editing an applied file changes nothing, but is reported.
                    (tmp_path / "0001_ok.sql").write_text("CREATE TABLE kept (y integer);")
                    with caplog.at_level(logging.WARNING, logger="app.migrations"):
                        assert await migrations.apply(other, tmp_path, max_seconds=5) == []
                    assert "0001_ok changed after it was applied" in caplog.text
                finally:
                    await other.close()
            finally:
                await conn.close()

    run(scenario)
