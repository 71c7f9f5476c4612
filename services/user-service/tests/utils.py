"""Helpers the tests share."""

import socket
import uuid

import jwt


def unique_address() -> str:
    """An IPv6 documentation address no other test uses."""
    suffix = uuid.uuid4().hex[:16]
    return "2001:db8:" + ":".join(suffix[i : i + 4] for i in range(0, 16, 4))


def closed_port() -> int:
    """A local TCP port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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
