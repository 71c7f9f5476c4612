"""Gateway settings, read from the environment and validated at start-up."""

import ipaddress
import json
import logging
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import NoDecode

from servicekit.settings import ServiceSettings

log = logging.getLogger("app.config")

AUTH_SERVICE = "user-service"
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
LOOPBACK = [ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("::1/128")]


def _json(name: str, value: Any, expected: type, example: str) -> Any:
    """Parse a JSON environment value, naming the variable and the expected shape on error."""
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else expected()
        except json.JSONDecodeError as exc:
            raise ValueError(f"{name} is not valid JSON ({exc}); expected e.g. {example}") from None
    if not isinstance(value, expected):
        raise ValueError(f"{name} must be a JSON {expected.__name__}, e.g. {example}")
    return value


class AccessRule(BaseModel):
    """One ACCESS_RULES rule (the catalog's `access:`, see toolkit/access.py): requests whose
    method it lists (none: every method) and whose service path starts with `path`, segment
    by segment (`*` is any one segment), need `role`."""

    model_config = ConfigDict(extra="forbid")

    methods: list[Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]] = []
    path: str = Field(pattern=r"^/")
    role: Literal["user", "admin"]

    @field_validator("methods", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return (
            [m.upper() if isinstance(m, str) else m for m in value]
            if isinstance(value, list)
            else value
        )

    @field_validator("path")
    @classmethod
    def _canonical(cls, value: str) -> str:
        # Segments are compared one by one; empty ones (a trailing or doubled "/") mean nothing.
        return "/" + "/".join(segment for segment in value.split("/") if segment)


def _network(item: Any) -> IPNetwork:
    """One TRUSTED_PROXIES entry: an address or a network, never one holding every address."""
    if isinstance(item, ipaddress.IPv4Network | ipaddress.IPv6Network):
        network = item
    else:
        try:
            if not isinstance(item, str):
                raise ValueError
            network = ipaddress.ip_network(item.strip(), strict=False)
        except ValueError:
            raise ValueError(
                f"TRUSTED_PROXIES: {item!r} is not an IP address or network (e.g. 10.0.0.0/8)"
            ) from None
    if network.prefixlen == 0:
        # Then no hop is ever untrusted, and the left-most entry, the client's own, would count.
        raise ValueError(
            f"TRUSTED_PROXIES: {network} trusts every address: clients could name theirs"
        )
    return network


class Settings(ServiceSettings):
    """Environment of the api-gateway (see services/README.md)."""

    service_name: str = "api-gateway"
    port: int = 8000
    # Service name -> base URL; NoDecode so a bad value gets our message, not a generic one.
    upstreams: Annotated[dict[str, str], NoDecode] = {AUTH_SERVICE: "http://user-service:8008"}
    # Services reachable as /api/<service>/...; anything else (internal ones included) is 404.
    public_services: Annotated[list[str], NoDecode] = []
    redis_url: str = "redis://redis:6379/0"
    jwt_secret: str = ""
    rate_limit_per_minute: int = Field(default=1200, ge=1)
    upstream_timeout: float = Field(default=10.0, gt=0, le=300)
    # Largest WebSocket message relayed either way; uvicorn's own cap (--ws-max-size) is 16 MiB.
    ws_max_message_bytes: int = Field(default=1_048_576, ge=1, le=16 * 1024 * 1024)
    # How often an open WebSocket's session is re-checked: a logout ends it within this time.
    ws_session_check_seconds: float = Field(default=10.0, gt=0, le=300)
    # Peers whose X-Forwarded-For is believed: the load balancers in front of the gateway.
    # Loopback by default, as uvicorn's own --forwarded-allow-ips (which rewrites the peer of a
    # loopback connection before the gateway sees it); in a container only its own processes.
    trusted_proxies: Annotated[list[IPNetwork], NoDecode] = LOOPBACK
    # Public service -> its rules, first match wins; a route no rule matches needs `user`.
    access_rules: Annotated[dict[str, list[AccessRule]], NoDecode] = {}

    @field_validator("upstreams", mode="before")
    @classmethod
    def _parse_upstreams(cls, value: Any) -> Any:
        return _json("UPSTREAMS", value, dict, '{"user-service": "http://user-service:8008"}')

    @field_validator("public_services", mode="before")
    @classmethod
    def _parse_public(cls, value: Any) -> Any:
        return _json("PUBLIC_SERVICES", value, list, '["orders-service"]')

    @field_validator("access_rules", mode="before")
    @classmethod
    def _parse_access(cls, value: Any) -> Any:
        example = '{"orders": [{"methods": ["POST"], "path": "/refunds", "role": "admin"}]}'
        return _json("ACCESS_RULES", value, dict, example)

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _parse_trusted(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.lstrip().startswith("["):
            # The comma-separated form of uvicorn's FORWARDED_ALLOW_IPS.
            value = [item for item in value.split(",") if item.strip()]
        value = _json("TRUSTED_PROXIES", value, list, '["10.0.0.0/8"]')
        return [_network(item) for item in value]

    @field_validator("upstreams")
    @classmethod
    def _check_upstreams(cls, value: dict[str, str]) -> dict[str, str]:
        checked = {}
        for name, url in value.items():
            parts = urlsplit(url)
            if not name or "/" in name:
                raise ValueError(f"UPSTREAMS: invalid service name {name!r}")
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"UPSTREAMS: {name!r} needs an absolute http(s) URL, got {url!r}")
            if parts.query or parts.fragment:
                raise ValueError(f"UPSTREAMS: {name!r} URL must not have a query or fragment")
            # Paths are appended to the base, so a trailing slash would double up.
            checked[name] = url.rstrip("/")
        if AUTH_SERVICE not in checked:
            raise ValueError(f"UPSTREAMS must include {AUTH_SERVICE!r}: /auth/... is routed there")
        return checked

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: str) -> str:
        if urlsplit(value).scheme not in ("redis", "rediss", "unix"):
            raise ValueError(
                f"REDIS_URL must be a redis://, rediss:// or unix:// URL, got {value!r}"
            )
        return value

    @model_validator(mode="after")
    def _check_routing(self) -> "Settings":
        missing = [name for name in self.public_services if name not in self.upstreams]
        if missing:
            raise ValueError(
                f"PUBLIC_SERVICES lists {', '.join(missing)} with no entry in UPSTREAMS "
                f"(known upstreams: {', '.join(self.upstreams)})"
            )
        if len(set(self.public_services)) != len(self.public_services):
            raise ValueError("PUBLIC_SERVICES lists a service twice")
        # A rule for a service the gateway does not route would protect nothing: a typo.
        for name in self.access_rules:
            if name not in self.public_services:
                raise ValueError(f"ACCESS_RULES names {name}, which PUBLIC_SERVICES does not list")
        # Without a secret every token would be "valid" under an empty HMAC key.
        if not self.jwt_secret.strip():
            raise ValueError("JWT_SECRET is required: the gateway verifies every access token")
        if self.environment == "production" and len(self.jwt_secret) < 32:
            log.warning("JWT_SECRET is shorter than 32 bytes; HS256 wants at least 32")
        return self

    def secret_fields(self) -> tuple[str, ...]:
        return (*super().secret_fields(), "jwt_secret")
