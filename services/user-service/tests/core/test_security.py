"""Password hashing and token signing."""

import time

import bcrypt
import jwt
import pytest

from app.core.config import Settings
from app.core.security import (
    TokenError,
    create_token,
    decode_token,
    dummy_hash,
    hash_password,
    hash_rounds,
    verify_password,
)

SECRET = "unit-test-secret-0123456789abcdef0123"


def test_default_cost_is_12(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BCRYPT_ROUNDS", raising=False)
    rounds = Settings(environment="test").bcrypt_rounds
    password_hash = hash_password("correct horse 1", rounds)
    assert password_hash.startswith("$2b$12$")
    assert verify_password("correct horse 1", password_hash)


def test_hash_verifies_only_its_password() -> None:
    password_hash = hash_password("correct horse 1", 4)
    assert password_hash.startswith("$2b$04$")
    assert verify_password("correct horse 1", password_hash)
    assert not verify_password("correct horse 2", password_hash)
    assert hash_password("correct horse 1", 4) != password_hash  # salted


def test_passwords_over_72_bytes_never_match() -> None:
    # bcrypt would compare only the first 72 bytes; a longer password must not slip through.
    password_hash = bcrypt.hashpw(b"a" * 72, bcrypt.gensalt(4)).decode()
    assert verify_password("a" * 72, password_hash)
    assert not verify_password("a" * 73, password_hash)


@pytest.mark.parametrize("bad_hash", ["", "not-a-hash", "$2b$04$short"])
def test_unusable_hashes_do_not_match(bad_hash: str) -> None:
    assert not verify_password("anything 1", bad_hash)


def test_lone_surrogates_do_not_match() -> None:
    assert not verify_password("\ud800abc", hash_password("abc", 4))


def test_hash_rounds_and_dummy_hash() -> None:
    assert hash_rounds(hash_password("x", 5)) == 5
    assert hash_rounds("plain") is None
    assert hash_rounds(dummy_hash(4)) == 4
    assert dummy_hash(4) == dummy_hash(4)


def make(kind: str = "access", ttl: int = 60, secret: str = SECRET) -> str:
    return create_token(
        secret=secret, kind=kind, user_id="u-1", username="alice", session_id="s-1", ttl=ttl
    )


def test_token_round_trip() -> None:
    claims = decode_token(make(), secret=SECRET, expected_type="access")
    assert (claims.user_id, claims.username, claims.session_id) == ("u-1", "alice", "s-1")
    assert claims.type == "access"
    assert claims.expires_at - int(time.time()) in (59, 60)


@pytest.mark.parametrize(
    ("token_args", "expected", "message"),
    [
        ({"ttl": -1}, "access", "token expired"),
        ({"secret": "other-secret-0123456789abcdef0123456"}, "access", "invalid token"),
        ({"kind": "refresh"}, "access", "invalid token: not an access token"),
        ({"kind": "access"}, "refresh", "invalid token: not a refresh token"),
    ],
)
def test_token_refusals(token_args: dict, expected: str, message: str) -> None:
    with pytest.raises(TokenError, match=f"^{message}$"):
        decode_token(make(**token_args), secret=SECRET, expected_type=expected)


def test_the_access_token_carries_the_role() -> None:
    common = {"secret": SECRET, "user_id": "u1", "username": "alice", "session_id": "s1"}
    token = create_token(kind="access", ttl=60, role="admin", **common)
    assert decode_token(token, secret=SECRET, expected_type="access").role == "admin"


def test_a_token_minted_before_roles_counts_as_user() -> None:
    now = int(time.time())
    claims = {
        "sub": "u1",
        "username": "alice",
        "sid": "s1",
        "jti": "j1",
        "type": "access",
        "iat": now,
        "exp": now + 60,
        "iss": "tiered-platform",
    }
    token = jwt.encode(claims, SECRET, algorithm="HS256")
    assert decode_token(token, secret=SECRET, expected_type="access").role == "user"


@pytest.mark.parametrize("role", ["root", "", 7])
def test_a_token_with_an_unknown_role_is_refused(role: object) -> None:
    now = int(time.time())
    claims = {
        "sub": "u1",
        "username": "alice",
        "sid": "s1",
        "jti": "j1",
        "type": "access",
        "role": role,
        "iat": now,
        "exp": now + 60,
        "iss": "tiered-platform",
    }
    token = jwt.encode(claims, SECRET, algorithm="HS256")
    with pytest.raises(TokenError, match="invalid token"):
        decode_token(token, secret=SECRET, expected_type="access")
