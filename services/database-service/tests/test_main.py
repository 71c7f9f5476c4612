"""Start-up and /health: PostgreSQL required, Redis and ClickHouse optional and recoverable."""

import time
from urllib.parse import urlsplit, urlunsplit

import pytest
from fastapi.testclient import TestClient

import servicekit_testing as testing
from app.core.backends import PostgresUnavailable
from app.core.config import Settings
from app.main import build_app
from tests.utils import LOOPBACK, TcpRelay, free_port, new_user


def with_redis_port(settings: Settings, port: int) -> str:
    """REDIS_URL with its host and port replaced, credentials and database kept."""
    parts = urlsplit(settings.redis_url)
    credentials = parts.netloc.rpartition("@")[0]
    netloc = f"{credentials}@{LOOPBACK}:{port}" if credentials else f"{LOOPBACK}:{port}"
    return urlunsplit(parts._replace(netloc=netloc))


def health(client: TestClient) -> tuple[int, dict]:
    """/health after a round of checks begun now: the tests change backends under the app,
    and the background checker would see it within an interval (servicekit.health)."""
    started = time.monotonic()
    response = testing.fresh_health(client)
    # Every check is bounded (2 s each, run concurrently): a dead backend never stalls it.
    assert time.monotonic() - started < 3
    return response.status_code, response.json()


def statuses(report: dict) -> dict[str, str]:
    return {name: check["status"] for name, check in report["checks"].items()}


def test_health_is_ok_with_all_three_up(client: TestClient) -> None:
    code, report = health(client)
    assert code == 200
    assert report["service"] == "database-service"
    assert report["status"] == "ok"
    assert statuses(report) == {"postgres": "ok", "redis": "ok", "clickhouse": "ok"}


def test_clickhouse_unreachable_means_degraded(settings: Settings, auth: dict) -> None:
    app = build_app(
        settings.model_copy(update={"clickhouse_host": LOOPBACK, "clickhouse_port": free_port()})
    )
    with TestClient(app, headers=testing.internal_headers()) as client:
        code, report = health(client)
        assert code == 200
        assert report["status"] == "degraded"
        assert statuses(report) == {"postgres": "ok", "redis": "ok", "clickhouse": "down"}
        assert report["checks"]["clickhouse"]["detail"]
        # The data API does not need ClickHouse.
        assert client.post("/users", json=new_user(), headers=auth).status_code == 201


def test_redis_unreachable_means_degraded(settings: Settings) -> None:
    redis_url = with_redis_port(settings, free_port())
    app = build_app(settings.model_copy(update={"redis_url": redis_url}))
    with TestClient(app, headers=testing.internal_headers()) as client:
        code, report = health(client)
        assert code == 200
        assert report["status"] == "degraded"
        assert statuses(report) == {"postgres": "ok", "redis": "down", "clickhouse": "ok"}


def test_optional_backends_are_picked_up_when_they_come_back(settings: Settings) -> None:
    clickhouse = TcpRelay(settings.clickhouse_host, settings.clickhouse_port)
    redis_target = urlsplit(settings.redis_url)
    redis = TcpRelay(redis_target.hostname or "localhost", redis_target.port or 6379)
    app = build_app(
        settings.model_copy(
            update={
                "clickhouse_host": LOOPBACK,
                "clickhouse_port": clickhouse.port,
                "redis_url": with_redis_port(settings, redis.port),
            }
        )
    )
    try:
        with TestClient(app, headers=testing.internal_headers()) as client:
            assert statuses(health(client)[1]) == {
                "postgres": "ok",
                "redis": "down",
                "clickhouse": "down",
            }
            clickhouse.open()
            redis.open()
            code, report = health(client)
            assert (code, report["status"]) == (200, "ok"), report
            # And again after they drop out and return once more (a backend restart).
            clickhouse.close()
            redis.close()
            assert health(client)[1]["status"] == "degraded"
            clickhouse.open()
            redis.open()
            assert health(client)[1]["status"] == "ok"
    finally:
        clickhouse.close()
        redis.close()


def test_losing_postgres_is_503_not_500_and_recovers(settings: Settings, auth: dict) -> None:
    postgres = TcpRelay(settings.postgres_host, settings.postgres_port)
    postgres.open()
    app = build_app(
        settings.model_copy(
            update={
                "postgres_host": LOOPBACK,
                "postgres_port": postgres.port,
                "pool_acquire_timeout": 1,
            }
        )
    )
    try:
        with TestClient(app, headers=testing.internal_headers()) as client:
            assert health(client)[0] == 200
            postgres.close()
            code, report = health(client)
            assert (code, report["status"], statuses(report)["postgres"]) == (503, "down", "down")
            response = client.post("/users", json=new_user(), headers=auth)
            assert response.status_code == 503, response.text
            postgres.open()
            assert health(client)[0] == 200
            assert client.post("/users", json=new_user(), headers=auth).status_code == 201
    finally:
        postgres.close()


def test_an_exhausted_pool_is_degraded_and_503(settings: Settings, auth: dict) -> None:
    app = build_app(
        settings.model_copy(update={"pool_max": 1, "pool_min": 1, "pool_acquire_timeout": 0.3})
    )
    with TestClient(app, headers=testing.internal_headers()) as client:
        pool = app.state.backends.pool
        held = client.portal.call(pool.acquire)  # the pool's only connection
        try:
            code, report = health(client)
            assert (code, report["status"]) == (200, "degraded")
            assert report["checks"]["postgres"]["status"] == "degraded"
            assert "exhausted" in report["checks"]["postgres"]["detail"]
            response = client.get(f"/users/by-username/{new_user()['username']}", headers=auth)
            assert response.status_code == 503
            assert response.headers["retry-after"] == "1"
        finally:
            client.portal.call(pool.release, held)
        assert health(client)[1]["status"] == "ok"


def test_start_fails_when_postgres_stays_unreachable(settings: Settings) -> None:
    app = build_app(
        settings.model_copy(
            update={"postgres_host": LOOPBACK, "postgres_port": free_port(), "startup_timeout": 1}
        )
    )
    started = time.monotonic()
    with pytest.raises(PostgresUnavailable), TestClient(app, headers=testing.internal_headers()):
        pass
    assert time.monotonic() - started < 10
