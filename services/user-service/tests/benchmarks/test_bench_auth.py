"""user-service's hot paths, in process: issuing and verifying tokens, checking a password,
validating a registration, and /auth/me through the real app (Redis and database-service).

Password checks run at the suite's BCRYPT_ROUNDS (4 in the test containers), not at the
production cost of 12: bcrypt doubles its work per round, so a cost-12 check takes about
2**8 = 256 times as long as the figure measured here. The HTTP load benchmark measures the
production cost through the gateway.
"""

import uuid

import pytest

from app.core.config import Settings
from app.core.security import create_token, decode_token, hash_password, verify_password
from app.core.sessions import profile_key
from app.schemas import UserCreate
from tests.utils import bearer, claims_of, new_credentials

PASSWORD = "Correct-horse-battery-9"


def _access_token(settings: Settings) -> str:
    return create_token(
        secret=settings.jwt_secret,
        kind="access",
        user_id=str(uuid.uuid4()),
        username="bench-user",
        session_id=uuid.uuid4().hex,
        ttl=settings.access_token_ttl,
    )


def test_issue_access_token(benchmark, settings: Settings) -> None:
    token = benchmark(_access_token, settings)
    assert token.count(".") == 2


def test_verify_access_token(benchmark, settings: Settings) -> None:
    token = _access_token(settings)
    claims = benchmark(decode_token, token, secret=settings.jwt_secret, expected_type="access")
    assert claims.username == "bench-user"


@pytest.fixture(scope="module")
def password_hash(settings: Settings) -> str:
    return hash_password(PASSWORD, settings.bcrypt_rounds)


def test_verify_password_at_test_cost(benchmark, settings: Settings, password_hash: str) -> None:
    """bcrypt at the suite's cost (BCRYPT_ROUNDS, 4 here): production's 12 is ~256x this."""
    benchmark.extra_info["bcrypt_rounds"] = settings.bcrypt_rounds
    assert benchmark(verify_password, PASSWORD, password_hash)


def test_validate_registration(benchmark) -> None:
    body = new_credentials()
    user = benchmark(UserCreate.model_validate, body)
    assert user.email == body["email"]


@pytest.fixture
def signed_in(make_user, login) -> dict[str, str]:
    tokens = login(make_user())
    return {"sid": claims_of(tokens["access_token"])["sid"], **bearer(tokens["access_token"])}


def test_me_cached(benchmark, client, signed_in: dict[str, str]) -> None:
    """/auth/me from the session's profile cache: token, session hash and cache in Redis."""
    headers = {"Authorization": signed_in["Authorization"]}
    assert client.get("/auth/me", headers=headers).status_code == 200  # fills the cache
    response = benchmark(client.get, "/auth/me", headers=headers)
    assert response.status_code == 200, response.text


def test_me_cache_miss(benchmark, client, redis_client, signed_in: dict[str, str]) -> None:
    """/auth/me with the profile cache emptied first: adds the call to database-service."""
    headers = {"Authorization": signed_in["Authorization"]}

    def drop_cache() -> None:
        redis_client.delete(profile_key(signed_in["sid"]))

    response = benchmark.pedantic(
        client.get,
        args=("/auth/me",),
        kwargs={"headers": headers},
        setup=drop_cache,
        rounds=200,
        warmup_rounds=5,
    )
    assert response.status_code == 200, response.text
