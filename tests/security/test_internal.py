"""Internal means authenticated: only the gateway is published, every other service refuses a
request without its caller's credential, and a caller's credential opens only what the catalog
lets it call (servicekit.internal).

The attacker here sits on the host (or on one of the stack's networks): it can reach every
container's address, and in the worst case holds one service's secret (it took over that
container). Each assertion is the service's own answer to that."""

import socket
import uuid

import httpx
import pytest

from toolkit import catalog, envfile, stack

pytestmark = pytest.mark.docker

CATALOG = catalog.load()
INTERNAL = [s for s in CATALOG.services.values() if not s.extra.get("gateway")]


def _url(name: str) -> str:
    return stack.service_url(CATALOG.service(name))


def _as(caller: str) -> dict[str, str]:
    """The headers of someone holding `caller`'s secret (read from the env file)."""
    secret = envfile.read(envfile.ensure()[0])[envfile.token_key(caller)]
    return {"X-Internal-Token": f"{caller}:{secret}"}


@pytest.mark.parametrize("service", INTERNAL, ids=lambda s: s.name)
def test_no_service_but_the_gateway_listens_on_the_host(service):
    with socket.socket() as sock:
        sock.settimeout(2)
        assert sock.connect_ex(("127.0.0.1", service.port)) != 0, service.name
    with socket.socket() as sock:
        sock.settimeout(2)
        assert sock.connect_ex(("127.0.0.1", CATALOG.service("api-gateway").port)) == 0


@pytest.mark.parametrize("service", INTERNAL, ids=lambda s: s.name)
def test_every_internal_service_refuses_a_caller_without_a_credential(service):
    url = _url(service.name)
    forged = [
        {},
        {"X-Internal-Token": "api-gateway:guessed"},
        {"X-Internal-Token": "operator:" + "0" * 43},
        # Identity and forwarding headers prove nothing on their own.
        {"X-User-Id": "admin", "X-User-Role": "admin", "X-Real-IP": "10.9.8.7"},
    ]
    for headers in forged:
        answer = httpx.get(f"{url}/openapi.json", headers=headers, timeout=10)
        assert answer.status_code == 401, (service.name, headers, answer.text)
    # What still answers: whether it lives (Docker's health check, a load balancer's probe).
    assert httpx.get(f"{url}/health/live", timeout=10).status_code == 200


def test_ai_provider_shows_nobodys_spend_to_a_header_without_a_credential():
    spoofed = {"X-User-Id": f"spy-{uuid.uuid4().hex[:8]}", "X-User-Role": "admin"}
    answer = httpx.get(f"{_url('ai-provider')}/stats", headers=spoofed, timeout=10)
    assert answer.status_code == 401
    assert "by_user" not in answer.text


@pytest.mark.parametrize(
    "caller", ["data-bridge", "trading-engine", "ml-processing", "deep-learning"]
)
def test_a_taken_over_service_cannot_read_users(caller):
    # Only user-service reads users: another caller's own, valid credential gets 403 on every
    # users route of database-service (password hashes live there).
    url = _url("database-service")
    for method, path in (
        ("GET", f"/users/{uuid.uuid4()}"),
        ("GET", "/users/by-username/admin"),
        ("POST", "/users"),
    ):
        answer = httpx.request(method, f"{url}{path}", json={}, headers=_as(caller), timeout=10)
        assert answer.status_code == 403, (caller, method, path, answer.text)
        assert "hash" not in answer.text


def test_a_credential_opens_only_the_services_its_owner_calls():
    # data-bridge calls database-service alone: its secret is no key to ml-processing or
    # user-service, and the gateway's is no key to database-service.
    assert (
        httpx.get(f"{_url('ml-processing')}/models", headers=_as("data-bridge")).status_code == 401
    )
    assert (
        httpx.get(f"{_url('user-service')}/auth/me", headers=_as("data-bridge")).status_code == 401
    )
    probe = f"{_url('database-service')}/market/symbols"
    assert httpx.get(probe, headers=_as("api-gateway")).status_code == 401
    # And the owners' own calls pass: the credential is what decides, not the address.
    assert (
        httpx.get(f"{_url('ml-processing')}/models", headers=_as("api-gateway")).status_code == 200
    )


def test_readers_of_the_market_cannot_write_it():
    url = _url("database-service")
    body = {"batch_id": str(uuid.uuid4()), "ticks": []}
    answer = httpx.post(f"{url}/market/ticks", json=body, headers=_as("trading-engine"))
    assert answer.status_code == 403
