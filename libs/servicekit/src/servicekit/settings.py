"""Settings every service shares, read from the environment, and from /run/secrets.

On a swarm (`inv deploy`) a service's secrets are Swarm secrets, mounted as files named after
the setting (/run/secrets/jwt_secret, /run/secrets/internal_token, /run/secrets/redis_url):
pydantic-settings reads a field from the file of its name when the environment does not set it.
Compose still hands them over as variables, which win over files.
"""

import os
from typing import Any

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Values that must never reach a deployment: they are what a developer types when in a hurry.
INSECURE_SECRETS = {"", "changeme", "secret", "dev", "development"}
# Where Swarm (and compose's file secrets) mount secrets; absent elsewhere (no warning then).
SECRETS_DIR = os.environ.get("SECRETS_DIR", "/run/secrets")


class ServiceSettings(BaseSettings):
    """Base settings; a service subclasses it and adds its own fields."""

    model_config = SettingsConfigDict(
        env_file=None,
        extra="ignore",
        secrets_dir=SECRETS_DIR if os.path.isdir(SECRETS_DIR) else None,
    )

    service_name: str = "service"
    environment: str = Field(default="production", pattern="^(development|test|production)$")
    log_level: str = "INFO"
    port: int = 8000
    # Largest request body accepted, in bytes; larger ones get 413 before any handler runs.
    max_body_bytes: int = 1_048_576
    # This service's own credential, `<name>:<secret>`, presented on every call it makes to
    # another service (X-Internal-Token; servicekit.internal).
    internal_token: str = ""
    # Who may call this service and which routes (JSON; servicekit.internal): the catalog's
    # callers of this service, each with the sha256 of its secret. Empty: only /health answers.
    internal_callers: dict[str, Any] = {}
    # Seconds between two rounds of health checks (servicekit.health): /health answers from
    # the last round, so polling it costs no dependency call; it is stale after 3 intervals.
    health_interval: float = Field(default=2.0, gt=0)

    @field_validator("internal_callers")
    @classmethod
    def _valid_callers(cls, value: dict[str, Any]) -> dict[str, Any]:
        from servicekit.internal import parse_callers

        parse_callers(value)  # raises ValueError naming the entry at fault
        return value

    @model_validator(mode="after")
    def _refuse_insecure_defaults(self) -> "ServiceSettings":
        if self.environment == "production":
            for name in self.secret_fields():
                if str(getattr(self, name)).strip().lower() in INSECURE_SECRETS:
                    raise ValueError(
                        f"{name.upper()} is empty or insecure; set it in the environment "
                        "(the toolkit generates its env file with random values: `inv env`)"
                    )
        return self

    def secret_fields(self) -> tuple[str, ...]:
        """Names of fields that hold secrets; subclasses extend the tuple."""
        return ("internal_token",)
