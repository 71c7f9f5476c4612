"""The client's address: the socket peer, unless the peer is a proxy the gateway trusts.

A client can write X-Forwarded-For itself, so the header is read only when the peer is in
TRUSTED_PROXIES, and from the right, as each proxy appends the address it saw: the right-most
entry that is not itself a trusted proxy is the client; what lies left of it, the client may
have made up. Addresses come out in one canonical form, so a limit counts each client once.
"""

import ipaddress
from collections.abc import Sequence

from starlette.requests import HTTPConnection

from app.core.config import IPNetwork


def canonical(value: str) -> str | None:
    """`value` as an IP address in canonical form (a port dropped, IPv4-mapped as IPv4), or None."""
    text = value.strip()
    if text.startswith("["):  # [v6] or [v6]:port
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:  # v4:port
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        # A dual-stack socket reports IPv4 peers this way; one client, one form.
        address = address.ipv4_mapped
    return str(address)


def _trusted(address: str, trusted: Sequence[IPNetwork]) -> bool:
    ip = ipaddress.ip_address(address)
    return any(ip in network for network in trusted)


def client_address(connection: HTTPConnection, trusted: Sequence[IPNetwork]) -> str:
    """The address of the client behind `connection` (see the module docstring)."""
    peer = connection.client.host if connection.client else ""
    current = canonical(peer)
    if current is None:
        return peer or "unknown"  # not an IP (a unix socket, a test client): nothing to walk
    hops = [
        hop for value in connection.headers.getlist("x-forwarded-for") for hop in value.split(",")
    ]
    while hops and _trusted(current, trusted):
        claimed = canonical(hops.pop())
        if claimed is None:
            break  # a trusted proxy wrote no address: that proxy is the last hop known
        current = claimed
    return current
