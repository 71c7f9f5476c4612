"""Helpers the tests share."""

import uuid

import jwt

import servicekit_testing as testing
from servicekit.internal import credential


def unique_address() -> str:
    """An IPv6 documentation address in a /64 no other test uses (limits count per /64)."""
    suffix = uuid.uuid4().hex
    return f"2001:db8:{suffix[:4]}:{suffix[4:8]}::{suffix[8:12]}"


# The suite's stand-in for the gateway's secret (tests/conftest.py lets it call the app).
GATEWAY = "api-gateway"
GATEWAY_SECRET = f"suite-gateway-{uuid.uuid4().hex}"


def via_gateway(address: str) -> dict[str, str]:
    """The headers of a request the gateway forwards for the client at `address`."""
    return {"X-Real-IP": address, "X-Internal-Token": credential(GATEWAY, GATEWAY_SECRET)}


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
