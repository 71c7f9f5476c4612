"""The client's address: the peer, or what a trusted proxy in front of the gateway says.

A client can write X-Forwarded-For itself, so the gateway reads it only from TRUSTED_PROXIES
and tells upstreams the result in X-Real-IP, a header it always sets itself.
"""

import secrets

import pytest

from tests.utils import away_from_window_end, header_values, unique_peer

PROXY = ("10.9.8.7", 1234)
TRUSTED = ["10.0.0.0/8"]


def unique_client() -> str:
    """A client address behind the proxy that no other test (or run) counts against."""
    return f"2001:db8::{secrets.token_hex(2)}:{secrets.token_hex(2)}"


def real_ip(gateway, forwarded_for: str | None = None, **headers) -> list[str]:
    """The X-Real-IP values user-service (the echo upstream) received for one login."""
    if forwarded_for is not None:
        headers["X-Forwarded-For"] = forwarded_for
    return header_values(gateway.post("/auth/login", json={}, headers=headers).json(), "x-real-ip")


def test_an_untrusted_peer_cannot_name_its_address(make_gateway):
    gateway = make_gateway(peer=PROXY)  # default TRUSTED_PROXIES: loopback only
    assert real_ip(gateway) == ["10.9.8.7"]
    assert real_ip(gateway, "203.0.113.5") == ["10.9.8.7"]
    # The gateway's own header is never one the client sent.
    assert real_ip(gateway, **{"X-Real-IP": "203.0.113.5"}) == ["10.9.8.7"]


@pytest.mark.parametrize(
    ("forwarded_for", "client"),
    [
        ("198.51.100.20", "198.51.100.20"),
        # The right-most entry a trusted proxy did not write is the client; the rest is its claim.
        ("203.0.113.9, 198.51.100.20", "198.51.100.20"),
        ("203.0.113.9, 198.51.100.20, 10.1.1.1", "198.51.100.20"),
        # Every hop trusted: the request started inside the trusted network.
        ("10.2.2.2, 10.3.3.3", "10.2.2.2"),
        # Not an address: the proxy that wrote it is the last thing known.
        ("203.0.113.9, not-an-address", "10.9.8.7"),
        ("", "10.9.8.7"),
        # Ports and brackets as some proxies write them; one canonical form for the limits.
        ("198.51.100.20:5555", "198.51.100.20"),
        ("[2001:DB8:0::1]:443", "2001:db8::1"),
        ("::ffff:198.51.100.20", "198.51.100.20"),
    ],
)
def test_a_trusted_proxy_names_the_client(make_gateway, forwarded_for, client):
    gateway = make_gateway(peer=PROXY, trusted_proxies=TRUSTED)
    assert real_ip(gateway, forwarded_for) == [client]


def test_a_trusted_proxy_forwards_several_header_lines(make_gateway):
    gateway = make_gateway(peer=PROXY, trusted_proxies=TRUSTED)
    headers = [("X-Forwarded-For", "203.0.113.9"), ("X-Forwarded-For", "198.51.100.20, 10.1.1.1")]
    echoed = gateway.post("/auth/login", json={}, headers=headers).json()
    assert header_values(echoed, "x-real-ip") == ["198.51.100.20"]


def test_public_services_get_the_client_address_too(make_gateway, session):
    gateway = make_gateway(peer=PROXY, trusted_proxies=TRUSTED)
    headers = {**session.headers, "X-Forwarded-For": "198.51.100.20", "X-Real-IP": "1.2.3.4"}
    echoed = gateway.get("/api/echo-service/x", headers=headers).json()
    assert header_values(echoed, "x-real-ip") == ["198.51.100.20"]
    # The chain itself is passed on as proxies do: what came in, plus the peer.
    assert header_values(echoed, "x-forwarded-for") == ["198.51.100.20, 10.9.8.7"]


def test_the_rate_limit_counts_clients_behind_a_trusted_proxy(make_gateway):
    away_from_window_end()
    proxy = (f"10.{secrets.randbelow(256)}.{secrets.randbelow(256)}.1", 1234)
    gateway = make_gateway(peer=proxy, trusted_proxies=TRUSTED, rate_limit_per_minute=2)
    first, second = {"X-Forwarded-For": unique_client()}, {"X-Forwarded-For": unique_client()}
    statuses = [gateway.post("/auth/login", headers=first).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert gateway.post("/auth/login", headers=second).status_code == 200


def test_the_rate_limit_ignores_an_untrusted_peers_claims(make_gateway):
    away_from_window_end()
    gateway = make_gateway(peer=unique_peer(), rate_limit_per_minute=2)
    statuses = [
        gateway.post("/auth/login", headers={"X-Forwarded-For": unique_client()}).status_code
        for _ in range(3)
    ]
    assert statuses == [200, 200, 429]


def test_every_upstream_gets_the_gateways_credential_never_the_clients(make_gateway, session):
    # No upstream answers without a credential (servicekit.internal); a client's own guess at
    # one is dropped, and what the upstream sees is the gateway's alone.
    credential = "api-gateway:gateway-internal-secret-0123456789"
    gateway = make_gateway(internal_token=credential)
    headers = {**session.headers, "X-Internal-Token": "operator:guessed"}
    login = gateway.post("/auth/login", json={}, headers=headers).json()
    assert header_values(login, "x-internal-token") == [credential]
    me = gateway.get("/auth/me", headers=headers).json()
    assert header_values(me, "x-internal-token") == [credential]
    public = gateway.get("/api/echo-service/x", headers=headers).json()
    assert header_values(public, "x-internal-token") == [credential]
