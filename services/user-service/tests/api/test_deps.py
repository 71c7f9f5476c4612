"""Access-token verification: every bad token is a 401 with a Bearer challenge, never a 500."""

import time
import uuid

import jwt
import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from tests.utils import bearer, claims_of


@pytest.fixture
def live_claims(make_user, login) -> dict:
    """The claims of a real access token whose session exists."""
    return claims_of(login(make_user())["access_token"])


def sign(claims: dict, secret: str, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, secret, algorithm=algorithm)


def assert_refused(client: TestClient, token: str, detail: str) -> None:
    response = client.get("/auth/me", headers=bearer(token))
    assert response.status_code == 401, response.text
    assert response.json()["detail"] == detail
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_the_genuine_token_is_accepted(
    client: TestClient, live_claims: dict, settings: Settings
) -> None:
    # The baseline every refusal below differs from in exactly one respect.
    token = sign(live_claims, settings.jwt_secret)
    assert client.get("/auth/me", headers=bearer(token)).status_code == 200


def test_expired_token(client: TestClient, live_claims: dict, settings: Settings) -> None:
    now = int(time.time())
    expired = {**live_claims, "iat": now - 3600, "exp": now - 60}
    assert_refused(client, sign(expired, settings.jwt_secret), "token expired")


def test_token_signed_with_another_secret(client: TestClient, live_claims: dict) -> None:
    forged = sign(live_claims, "another-secret-of-sufficient-length-0123456789")
    assert_refused(client, forged, "invalid token")


def test_unsigned_token(client: TestClient, live_claims: dict) -> None:
    assert_refused(client, jwt.encode(live_claims, None, algorithm="none"), "invalid token")


def test_token_of_another_issuer(client: TestClient, live_claims: dict, settings: Settings) -> None:
    token = sign({**live_claims, "iss": "someone-else"}, settings.jwt_secret)
    assert_refused(client, token, "invalid token")


def test_refresh_token_is_not_an_access_token(client: TestClient, make_user, login) -> None:
    pair = login(make_user())
    assert_refused(client, pair["refresh_token"], "invalid token: not an access token")


@pytest.mark.parametrize("claim", ["sid", "sub", "exp", "jti", "type", "iss"])
def test_token_missing_a_claim(
    client: TestClient, live_claims: dict, settings: Settings, claim: str
) -> None:
    claims = {k: v for k, v in live_claims.items() if k != claim}
    assert_refused(client, sign(claims, settings.jwt_secret), "invalid token")


def test_token_of_a_session_that_does_not_exist(
    client: TestClient, live_claims: dict, settings: Settings
) -> None:
    token = sign({**live_claims, "sid": uuid.uuid4().hex}, settings.jwt_secret)
    assert_refused(client, token, "session revoked")


def test_token_naming_another_user_than_its_session(
    client: TestClient, live_claims: dict, settings: Settings
) -> None:
    token = sign({**live_claims, "sub": str(uuid.uuid4())}, settings.jwt_secret)
    assert_refused(client, token, "invalid token")


@pytest.mark.parametrize(
    "token", ["garbage", "a.b.c", "eyJhbGciOiJIUzI1NiJ9." * 3, "x" * 3000, "%00%ff"]
)
def test_malformed_tokens(client: TestClient, token: str) -> None:
    assert_refused(client, token, "invalid token")


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer ", "Basic dXNlcjpwYXNzd29yZA=="])
def test_missing_credentials(client: TestClient, header: str | None) -> None:
    headers = {"Authorization": header} if header is not None else {}
    response = client.get("/auth/me", headers=headers)
    assert response.status_code == 401
    assert response.json()["detail"].startswith("not authenticated")
    assert response.headers["www-authenticate"] == "Bearer"
