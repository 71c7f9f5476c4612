"""Helpers the tests share."""

import uuid

import jwt

from servicekit import testing


def unique_address() -> str:
    """An IPv6 documentation address no other test uses."""
    suffix = uuid.uuid4().hex[:16]
    return "2001:db8:" + ":".join(suffix[i : i + 4] for i in range(0, 16, 4))


closed_port = testing.closed_port


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def claims_of(token: str) -> dict:
    """A token's claims, read without verification (tests inspect what the service issued)."""
    return jwt.decode(token, options={"verify_signature": False})


def new_credentials() -> dict[str, str]:
    """A username, email and policy-abiding password nobody has used."""
    name = f"u_{uuid.uuid4().hex[:12]}"
    return {
        "username": name,
        "email": f"{name}@example.com",
        "password": f"Pw{uuid.uuid4().hex[:10]}9x",
    }
