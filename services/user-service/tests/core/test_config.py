"""Settings refuse what must not reach production."""

import pytest
from pydantic import ValidationError

from app.core.config import Settings

GOOD = {
    "environment": "production",
    "jwt_secret": "s" * 32,
    "internal_token": "a-real-internal-token",
    "bcrypt_rounds": 12,
    "admin_username": "admin",
    "admin_password": "Adm1n-a-long-random-password",
}


def test_production_accepts_good_values() -> None:
    assert Settings(**GOOD).jwt_secret == "s" * 32


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"jwt_secret": ""}, "JWT_SECRET is empty or insecure"),
        ({"jwt_secret": "changeme"}, "JWT_SECRET is empty or insecure"),
        ({"jwt_secret": "s" * 31}, "at least 32 characters"),
        ({"internal_token": ""}, "INTERNAL_TOKEN is empty or insecure"),
        ({"bcrypt_rounds": 4}, "BCRYPT_ROUNDS must be at least 10"),
        ({"bcrypt_rounds": 3}, "greater than or equal to 4"),
        ({"access_token_ttl": 900, "refresh_token_ttl": 60}, "must not be shorter"),
        ({"admin_password": ""}, "ADMIN_PASSWORD is empty or insecure"),
        ({"admin_password": "changeme"}, "ADMIN_PASSWORD is empty or insecure"),
        ({"admin_password": "short1"}, "ADMIN_PASSWORD: password must be at least 10"),
        ({"admin_password": "admin-is-in-it-1"}, "ADMIN_PASSWORD: password must not contain"),
        ({"admin_username": ""}, "ADMIN_USERNAME is required in production"),
        ({"admin_username": "Bad Name"}, "ADMIN_USERNAME: username must be 3-32"),
        (
            {"login_max_failures_per_account": 4},
            "LOGIN_MAX_FAILURES_PER_ACCOUNT must not be below",
        ),
    ],
)
def test_production_refuses(override: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Settings(**{**GOOD, **override})


def test_tests_may_use_a_cheap_cost() -> None:
    assert Settings(**{**GOOD, "environment": "test", "bcrypt_rounds": 4}).bcrypt_rounds == 4


def test_the_admin_username_is_normalized() -> None:
    assert Settings(**{**GOOD, "admin_username": "Admin"}).admin_username == "admin"
