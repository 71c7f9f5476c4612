"""Settings validation: a misconfigured gateway refuses to start with a clear reason."""

import pytest
from pydantic import ValidationError

from app.core.config import Settings


def test_json_environment_is_parsed(monkeypatch):
    monkeypatch.setenv("UPSTREAMS", '{"user-service": "http://u:8008/", "orders": "http://o:80"}')
    monkeypatch.setenv("PUBLIC_SERVICES", '["orders"]')
    monkeypatch.setenv("RATE_LIMIT_PER_MINUTE", "50")
    monkeypatch.setenv("UPSTREAM_TIMEOUT", "2.5")
    settings = Settings()
    assert settings.upstreams == {"user-service": "http://u:8008", "orders": "http://o:80"}
    assert settings.public_services == ["orders"]
    assert settings.rate_limit_per_minute == 50
    assert settings.upstream_timeout == 2.5


def test_defaults(monkeypatch):
    for name in ("UPSTREAMS", "PUBLIC_SERVICES", "RATE_LIMIT_PER_MINUTE", "UPSTREAM_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert settings.public_services == []
    assert settings.rate_limit_per_minute == 1200
    assert settings.upstream_timeout == 10


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"UPSTREAMS": "{not json"}, "UPSTREAMS is not valid JSON"),
        ({"UPSTREAMS": '["user-service"]'}, "UPSTREAMS must be a JSON dict"),
        ({"UPSTREAMS": '{"orders": "http://o"}'}, "UPSTREAMS must include 'user-service'"),
        ({"UPSTREAMS": '{"user-service": "user-service:8008"}'}, "absolute http(s) URL"),
        ({"PUBLIC_SERVICES": '"orders"'}, "PUBLIC_SERVICES must be a JSON list"),
        (
            {"PUBLIC_SERVICES": '["orders"]'},
            "PUBLIC_SERVICES lists orders with no entry in UPSTREAMS",
        ),
        ({"RATE_LIMIT_PER_MINUTE": "0"}, "rate_limit_per_minute"),
        ({"JWT_SECRET": ""}, "JWT_SECRET is required"),
        ({"REDIS_URL": "http://redis:6379"}, "REDIS_URL must be"),
    ],
)
def test_invalid_settings_are_refused_clearly(monkeypatch, env, message):
    monkeypatch.delenv("UPSTREAMS", raising=False)
    monkeypatch.delenv("PUBLIC_SERVICES", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError) as caught:
        Settings()
    assert message in str(caught.value)


def test_production_refuses_placeholder_jwt_secret(monkeypatch):
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("INTERNAL_TOKEN", "a-real-internal-token-0123456789")
    monkeypatch.setenv("JWT_SECRET", "changeme")
    with pytest.raises(ValidationError, match="JWT_SECRET is empty or insecure"):
        Settings()
