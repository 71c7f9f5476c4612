"""Settings of user-service, read from the environment (see services/README.md)."""

from functools import lru_cache

from pydantic import Field, field_validator, model_validator

from app.schemas import check_password_policy, normalize_username
from servicekit.backends import RedisAndDatabaseSettings

# HS256 keys shorter than the hash output (32 bytes) weaken the signature (RFC 7518, 3.2).
MIN_JWT_SECRET_LENGTH = 32
# Below this cost a stolen hash table falls quickly; only tests go lower, for speed.
MIN_PRODUCTION_BCRYPT_ROUNDS = 10


class Settings(RedisAndDatabaseSettings):
    """Backends, token lifetimes, password hashing cost, login rate limits, the first admin."""

    service_name: str = "user-service"
    port: int = 8008

    # Seconds one call to database-service may take (per attempt; ServiceClient retries).
    database_timeout: float = Field(default=5.0, gt=0)
    # Seconds one Redis command (or connect) may take before the request answers 503.
    redis_timeout: float = Field(default=2.0, gt=0)

    jwt_secret: str = ""
    access_token_ttl: int = Field(default=900, ge=1)
    refresh_token_ttl: int = Field(default=604_800, ge=1)
    # Seconds /auth/me serves the cached profile before asking database-service again.
    profile_cache_ttl: int = Field(default=60, ge=0)

    # bcrypt accepts 4..31; each step doubles the work, 12 is ~0.25 s on a modern core.
    bcrypt_rounds: int = Field(default=12, ge=4, le=31)

    # Failed logins within LOGIN_WINDOW_SECONDS (successes count nowhere): one client on one
    # account; one client over all accounts; one account from all clients, a ceiling for
    # guesses spread over many addresses that the clients which logged in to the account within
    # LOGIN_KNOWN_CLIENT_SECONDS pass anyway, so guessers cannot lock its owner out.
    login_max_failures_per_account_and_client: int = Field(default=5, ge=1)
    login_max_failures_per_client: int = Field(default=30, ge=1)
    login_max_failures_per_account: int = Field(default=100, ge=1)
    login_known_client_seconds: int = Field(default=30 * 86_400, ge=1)
    login_window_seconds: int = Field(default=300, ge=1)
    # Registrations per client and window: each costs a bcrypt hash, and each 409 says a name
    # is taken. Generous, as every client on the Docker host reaches us from one address.
    register_max_per_client: int = Field(default=30, ge=1)
    register_window_seconds: int = Field(default=600, ge=1)

    # The first admin, created at start when no account has this name (app/admin.py); `inv env`
    # writes both to the env file. Never a default password: production refuses to start
    # without a real one; elsewhere either left empty means no admin is made.
    admin_username: str = ""
    admin_password: str = ""
    # Seconds between attempts to create the admin while database-service cannot be reached.
    admin_retry_seconds: float = Field(default=5.0, gt=0)

    def secret_fields(self) -> tuple[str, ...]:
        return (*super().secret_fields(), "jwt_secret", "admin_password")

    @field_validator("admin_username")
    @classmethod
    def _admin_username(cls, value: str) -> str:
        try:
            return normalize_username(value) if value else value
        except ValueError as exc:
            raise ValueError(f"ADMIN_USERNAME: {exc}") from None

    @model_validator(mode="after")
    def _check_consistency(self) -> "Settings":
        if self.refresh_token_ttl < self.access_token_ttl:
            raise ValueError("REFRESH_TOKEN_TTL must not be shorter than ACCESS_TOKEN_TTL")
        if self.login_max_failures_per_account < self.login_max_failures_per_account_and_client:
            # The ceiling would then be the per-account limit, and guessers could lock owners out.
            raise ValueError(
                "LOGIN_MAX_FAILURES_PER_ACCOUNT must not be below "
                "LOGIN_MAX_FAILURES_PER_ACCOUNT_AND_CLIENT"
            )
        if self.environment == "production":
            if len(self.jwt_secret) < MIN_JWT_SECRET_LENGTH:
                raise ValueError(
                    f"JWT_SECRET must be at least {MIN_JWT_SECRET_LENGTH} characters in production"
                )
            if self.bcrypt_rounds < MIN_PRODUCTION_BCRYPT_ROUNDS:
                raise ValueError(
                    f"BCRYPT_ROUNDS must be at least {MIN_PRODUCTION_BCRYPT_ROUNDS} in production"
                )
            if not self.admin_username:
                raise ValueError("ADMIN_USERNAME is required in production (`inv env` sets it)")
        if self.admin_username and self.admin_password:
            # The rules every account's password follows; the admin's matters most.
            try:
                check_password_policy(self.admin_password, self.admin_username)
            except ValueError as exc:
                raise ValueError(f"ADMIN_PASSWORD: {exc}") from None
        return self


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
