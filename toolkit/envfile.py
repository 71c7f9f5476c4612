"""The stack's env file: random development secrets, made once per machine, never committed.

It lives outside the checkout (~/.config/tiered/compose.env, or $TIERED_ENV_FILE) because the
secrets belong to the engine's data volumes, not to a clone: PostgreSQL keeps the password it
was initialised with, so a fresh clone that made new secrets could no longer log in to the
volume an earlier clone created.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import subprocess
from pathlib import Path

from toolkit import catalog
from toolkit.errors import ToolkitError

ENV_FILE = Path(
    os.environ.get("TIERED_ENV_FILE") or Path.home() / ".config" / "tiered" / "compose.env"
)
SECRET_KEYS = (
    "POSTGRES_PASSWORD",
    "REDIS_PASSWORD",
    "CLICKHOUSE_PASSWORD",
    "JWT_SECRET",
    # The first admin's, which user-service creates at its first start (services/README.md).
    "ADMIN_PASSWORD",
)
# Values that are not secret but must be there: the first admin's name.
DEFAULTS = {"ADMIN_USERNAME": "admin"}
# The internal credential of whoever holds this file (the toolkit, the test containers): every
# service accepts it on every route, as the holder of this file holds every password anyway.
OPERATOR = "operator"
# The one shared token every service held before each got its own; dropped from old files.
RETIRED_KEYS = ("INTERNAL_TOKEN",)


CA_CANDIDATES = (
    "/etc/ssl/certs/ca-certificates.crt",  # Debian, Ubuntu, Alpine
    "/etc/pki/tls/certs/ca-bundle.crt",  # Fedora, RHEL
    "/etc/ssl/cert.pem",  # macOS, BSD
)


def _pip_cert() -> str | None:
    result = _probe(["pip", "config", "get", "global.cert"])
    return (result.stdout.strip() or None) if result else None


def ca_bundle() -> Path:
    """The CA bundle builds hand to pip/uv as a secret: what the host's own tools trust, so a
    TLS-intercepting proxy that the host accepts is accepted inside builds too."""
    for variable in ("TIERED_CA_BUNDLE", "PIP_CERT", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"):
        value = os.environ.get(variable)
        if value and Path(value).is_file():
            return Path(value)
    for candidate in (_pip_cert(), *CA_CANDIDATES):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    try:
        import certifi

        return Path(certifi.where())
    except ImportError:
        raise ToolkitError(
            "no CA bundle found for builds", "set TIERED_CA_BUNDLE to a PEM file of trusted CAs"
        ) from None


def _probe(argv: list[str]) -> subprocess.CompletedProcess | None:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None


def _upper(name: str) -> str:
    return name.upper().replace("-", "_")


def token_key(caller: str) -> str:
    """The env file's key for a caller's internal secret (servicekit.internal)."""
    return f"INTERNAL_TOKEN_{_upper(caller)}"


def digest_key(caller: str) -> str:
    """The key of its sha256, which the services it calls hold instead of the secret."""
    return f"INTERNAL_TOKEN_SHA256_{_upper(caller)}"


def _callers() -> list[str]:
    return [*catalog.load().services, OPERATOR]


def secret_keys() -> list[str]:
    """Every key holding a secret: the passwords and each caller's internal secret."""
    return [*SECRET_KEYS, *(token_key(c) for c in _callers())]


def digest_keys() -> list[str]:
    return [digest_key(c) for c in _callers()]


def operator_credential(path: Path = ENV_FILE) -> str:
    """`operator:<secret>`: the X-Internal-Token the toolkit presents to a service directly."""
    return f"{OPERATOR}:{read(ensure(path)[0])[token_key(OPERATOR)]}"


def _secret() -> str:
    """A random value that also passes user-service's password policy (a letter, a digit)."""
    while True:
        value = secrets.token_urlsafe(32)
        letters, digits = any(c.isalpha() for c in value), any(c.isdigit() for c in value)
        # Nor may it hold the admin's name (the policy refuses a password containing it).
        if letters and digits and DEFAULTS["ADMIN_USERNAME"] not in value.lower():
            return value


VARIABLE = re.compile(r"\$\{(\w+)(?::?([?-])([^}]*))?\}")


def interpolate(value: str, values: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?error} against the env file's values."""

    def substitute(match: re.Match) -> str:
        name, operator, argument = match.groups()
        if values.get(name):
            return values[name]
        if operator == "-":
            return argument
        if operator == "?":
            raise ToolkitError(f"{name} is not set ({argument})", "run `inv env`")
        return ""

    return VARIABLE.sub(substitute, value)


def read(path: Path = ENV_FILE) -> dict[str, str]:
    values = {}
    if path.is_file():
        for line in path.read_text().splitlines():
            key, sep, value = line.partition("=")
            if sep and not key.lstrip().startswith("#"):
                values[key.strip()] = value.strip()
    return values


def ensure(path: Path = ENV_FILE) -> tuple[Path, list[str]]:
    """Create or complete the env file; existing values are kept. Returns the keys added.

    Each internal secret's sha256 is written beside it (and again whenever it no longer
    matches: after a secret was changed by hand), since compose cannot hash."""
    values = read(path)
    added = []
    changed = False
    for key in secret_keys():
        if not values.get(key):
            values[key] = _secret()
            added.append(key)
    for caller in _callers():
        digest = hashlib.sha256(values[token_key(caller)].encode()).hexdigest()
        if values.get(digest_key(caller)) != digest:
            values[digest_key(caller)] = digest
            changed = True
    for key in RETIRED_KEYS:
        changed = values.pop(key, None) is not None or changed
    for key, default in DEFAULTS.items():
        if not values.get(key):
            values[key] = default
            added.append(key)
    bundle = str(ca_bundle())
    if (
        values.get("BUILD_CA_BUNDLE") != bundle
        and not Path(values.get("BUILD_CA_BUNDLE", "")).is_file()
    ):
        values["BUILD_CA_BUNDLE"] = bundle
        added.append("BUILD_CA_BUNDLE")
    if added or changed:
        lines = [
            "# Made by `inv env` on this machine: development secrets. Never commit this file."
        ]
        lines += [f"{key}={value}" for key, value in values.items()]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.chmod(0o600)  # also when the file existed with looser permissions
        path.write_text("\n".join(lines) + "\n")
    return path, added
