"""toolkit/envfile.py: the env file with random development secrets, made once."""

from __future__ import annotations

import stat

import pytest

from toolkit import envfile

SECRETS = envfile.secret_keys()
ADDED = [*SECRETS, *envfile.DEFAULTS, "BUILD_CA_BUNDLE"]
# Each internal secret's digest is written too, after the values `ensure` reports as added.
ALL_KEYS = [*SECRETS, *envfile.digest_keys(), *envfile.DEFAULTS, "BUILD_CA_BUNDLE"]


@pytest.fixture
def bundle(tmp_path, monkeypatch):
    path = tmp_path / "ca-bundle.pem"
    path.write_text("-----BEGIN CERTIFICATE-----\nfake\n-----END CERTIFICATE-----\n")
    monkeypatch.setenv("TIERED_CA_BUNDLE", str(path))
    return path


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_ensure_creates_random_secrets(tmp_path, bundle):
    first, added_first = envfile.ensure(tmp_path / "one" / ".env")
    second, added_second = envfile.ensure(tmp_path / "two" / ".env")
    assert first == tmp_path / "one" / ".env"
    assert added_first == added_second == ADDED
    a, b = envfile.read(first), envfile.read(second)
    assert sorted(a) == sorted(ALL_KEYS)
    for key in SECRETS:
        assert len(a[key]) >= 32, key
        assert a[key] != b[key], key
    assert len({a[key] for key in SECRETS}) == len(SECRETS)
    assert a["BUILD_CA_BUNDLE"] == str(bundle)
    assert first.read_text().startswith("# ")  # a comment says what the file is


def test_ensure_file_mode_is_0600(tmp_path, bundle):
    path, _ = envfile.ensure(tmp_path / ".env")
    assert mode(path) == 0o600


def test_ensure_keeps_existing_values(tmp_path, bundle):
    path, _ = envfile.ensure(tmp_path / ".env")
    before = path.read_text()
    again, added = envfile.ensure(path)
    assert again == path
    assert added == []
    assert path.read_text() == before
    assert mode(path) == 0o600


def test_ensure_completes_a_partial_file(tmp_path, bundle):
    path = tmp_path / ".env"
    path.write_text(
        "# kept by hand\nPOSTGRES_PASSWORD=mine-postgres\nJWT_SECRET = mine-jwt\nREDIS_PASSWORD=\n"
    )
    path.chmod(0o600)
    _, added = envfile.ensure(path)
    assert added == [
        "REDIS_PASSWORD",
        "CLICKHOUSE_PASSWORD",
        "ADMIN_PASSWORD",
        *SECRETS[len(envfile.SECRET_KEYS) :],  # each caller's internal secret
        "ADMIN_USERNAME",
        "BUILD_CA_BUNDLE",
    ]
    values = envfile.read(path)
    assert values["POSTGRES_PASSWORD"] == "mine-postgres"
    assert values["JWT_SECRET"] == "mine-jwt"
    assert len(values["REDIS_PASSWORD"]) >= 32  # an empty value counts as missing
    assert set(values) == set(ALL_KEYS)
    assert mode(path) == 0o600


def test_ensure_keeps_a_valid_custom_bundle(tmp_path, bundle):
    custom = tmp_path / "corporate.pem"
    custom.write_text("pem")
    path = tmp_path / ".env"
    path.write_text("".join(f"{k}={'x' * 40}\n" for k in [*SECRETS, *envfile.DEFAULTS]))
    path.write_text(path.read_text() + f"BUILD_CA_BUNDLE={custom}\n")
    assert envfile.ensure(path)[1] == []
    assert envfile.read(path)["BUILD_CA_BUNDLE"] == str(custom)


def test_ensure_replaces_a_bundle_that_no_longer_exists(tmp_path, bundle):
    path = tmp_path / ".env"
    lines = [f"{k}={'x' * 40}" for k in [*SECRETS, *envfile.DEFAULTS]]
    path.write_text("\n".join([*lines, f"BUILD_CA_BUNDLE={tmp_path / 'gone.pem'}"]) + "\n")
    assert envfile.ensure(path)[1] == ["BUILD_CA_BUNDLE"]
    assert envfile.read(path)["BUILD_CA_BUNDLE"] == str(bundle)
    assert envfile.read(path)["JWT_SECRET"] == "x" * 40


def test_read_ignores_comments_and_missing_file(tmp_path):
    assert envfile.read(tmp_path / "absent") == {}
    path = tmp_path / ".env"
    path.write_text("# A=1\nB=two=2\nnot a pair\n  C = 3 \n")
    assert envfile.read(path) == {"B": "two=2", "C": "3"}


# Bug: ensure() makes the file 0600 only when it creates it (`touch(mode=0o600)` leaves an
# existing file's mode alone), so secrets it adds to a pre-existing, world-readable file stay
# world-readable.
def test_ensure_restricts_a_preexisting_file_it_writes_secrets_to(tmp_path, bundle):
    path = tmp_path / ".env"
    path.write_text("LOG_LEVEL=DEBUG\n")
    path.chmod(0o644)
    _, added = envfile.ensure(path)
    assert "JWT_SECRET" in added
    assert envfile.read(path)["LOG_LEVEL"] == "DEBUG"
    assert mode(path) == 0o600


def test_ensure_adds_the_first_admin(tmp_path, bundle):
    path, _ = envfile.ensure(tmp_path / ".env")
    values = envfile.read(path)
    assert values["ADMIN_USERNAME"] == "admin"
    password = values["ADMIN_PASSWORD"]
    # user-service's password policy: a letter and a digit, at most 72 bytes for bcrypt.
    assert any(c.isalpha() for c in password) and any(c.isdigit() for c in password)
    assert 32 <= len(password) <= 72
    assert "admin" not in password.lower()


def test_a_chosen_admin_name_is_kept(tmp_path, bundle):
    path = tmp_path / ".env"
    path.write_text("ADMIN_USERNAME=ops\n")
    _, added = envfile.ensure(path)
    assert "ADMIN_USERNAME" not in added and "ADMIN_PASSWORD" in added
    assert envfile.read(path)["ADMIN_USERNAME"] == "ops"
