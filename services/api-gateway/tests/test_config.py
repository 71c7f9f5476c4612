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


def test_trusted_proxies_default_to_loopback(monkeypatch):
    monkeypatch.delenv("TRUSTED_PROXIES", raising=False)
    assert [str(network) for network in Settings().trusted_proxies] == ["127.0.0.1/32", "::1/128"]


@pytest.mark.parametrize(
    ("value", "networks"),
    [
        ('["10.0.0.0/8", "192.168.1.7", "FD00::/8"]', ["10.0.0.0/8", "192.168.1.7/32", "fd00::/8"]),
        # The comma-separated form of uvicorn's FORWARDED_ALLOW_IPS works too.
        ("172.18.0.1, 10.0.0.0/8", ["172.18.0.1/32", "10.0.0.0/8"]),
        ("[]", []),
        ("", []),
    ],
)
def test_trusted_proxies_are_parsed(monkeypatch, value, networks):
    monkeypatch.setenv("TRUSTED_PROXIES", value)
    assert [str(network) for network in Settings().trusted_proxies] == networks


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
        ({"TRUSTED_PROXIES": '["proxy.local"]'}, "'proxy.local' is not an IP address or network"),
        ({"TRUSTED_PROXIES": "[10]"}, "10 is not an IP address or network"),
        ({"TRUSTED_PROXIES": "0.0.0.0/0"}, "trusts every address"),
        ({"TRUSTED_PROXIES": '["::/0"]'}, "trusts every address"),
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
