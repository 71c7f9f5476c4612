"""Settings: the documented defaults, and production's refusal of insecure secrets."""

import pytest
from pydantic import ValidationError

from app.core.config import Settings

VARIABLES = [
    "ENVIRONMENT", "INTERNAL_TOKEN", "POSTGRES_HOST", "POSTGRES_PORT", "POSTGRES_USER",
    "POSTGRES_PASSWORD", "POSTGRES_DB", "POOL_MAX", "REDIS_URL", "CLICKHOUSE_HOST",
    "CLICKHOUSE_PORT", "CLICKHOUSE_USER", "CLICKHOUSE_PASSWORD", "CLICKHOUSE_DB", "PORT",
]  # fmt: skip


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_defaults(clean_env: pytest.MonkeyPatch) -> None:
    settings = Settings(environment="test")
    assert settings.service_name == "database-service"
    assert settings.port == 8003
    assert settings.postgres_port == 5432
    assert settings.pool_max == 35
    assert settings.pool_min <= 5
    assert settings.clickhouse_port == 9000
    assert settings.clickhouse_user == "default"
    assert settings.clickhouse_password == ""


def test_read_from_the_environment(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("ENVIRONMENT", "test")
    clean_env.setenv("POOL_MAX", "7")
    clean_env.setenv("POSTGRES_HOST", "db.internal")
    clean_env.setenv("CLICKHOUSE_DB", "analytics")
    settings = Settings()
    assert (settings.pool_max, settings.postgres_host, settings.clickhouse_db) == (
        7,
        "db.internal",
        "analytics",
    )


@pytest.mark.parametrize("secret", ["postgres_password", "internal_token"])
@pytest.mark.parametrize("value", ["", "changeme", "secret"])
def test_production_refuses_insecure_secrets(
    clean_env: pytest.MonkeyPatch, secret: str, value: str
) -> None:
    values = {"postgres_password": "pg-S3cure-x", "internal_token": "tok-S3cure-x", secret: value}
    with pytest.raises(ValidationError, match=secret.upper()):
        Settings(environment="production", **values)


def test_production_accepts_real_secrets_and_an_empty_clickhouse_password(
    clean_env: pytest.MonkeyPatch,
) -> None:
    settings = Settings(
        environment="production",
        postgres_password="pg-S3cure-x",
        internal_token="tok-S3cure-x",
        clickhouse_password="",
    )
    assert settings.clickhouse_password == ""


@pytest.mark.parametrize("name", ["a-b", "x`; DROP DATABASE y", "1abc", ""])
def test_clickhouse_db_must_be_a_plain_identifier(clean_env: pytest.MonkeyPatch, name: str) -> None:
    with pytest.raises(ValidationError):
        Settings(environment="test", clickhouse_db=name)
