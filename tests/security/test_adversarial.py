"""Adversarial cases through the gateway and at the host's ports: spoofed identity and
forwarding headers, cross-user data, SSRF through feeds, redirects, hostile bodies, brute force.

Each case is what an attacker on this machine or on the network in front of the gateway can
send; the assertion is the platform's answer, never a 5xx and never someone else's data."""

import uuid

import httpx
import pytest

from tests.e2e.conftest import bearer, new_user, register_and_login
from toolkit import catalog

pytestmark = pytest.mark.docker

CATALOG = catalog.load()


def test_identity_headers_from_a_client_are_overwritten(gateway: httpx.Client):
    # A user names someone else in X-User-Id: the gateway replaces it with the token's user,
    # so the spend lands on the caller and the victim never appears.
    _, tokens = register_and_login(gateway)
    victim = f"victim-{uuid.uuid4().hex[:8]}"
    headers = {**bearer(tokens["access_token"]), "X-User-Id": victim, "X-Username": victim}
    body = {"model": "offline-template", "messages": [{"role": "user", "content": "EURUSD?"}]}
    answer = gateway.post("/api/ai-provider/v1/chat/completions", json=body, headers=headers)
    assert answer.status_code == 200, answer.text
    stats = gateway.get("/api/ai-provider/stats", headers=bearer(tokens["access_token"]))
    assert stats.status_code == 200
    assert victim not in stats.text


def test_a_forged_forwarding_header_does_not_escape_the_login_limit(gateway: httpx.Client):
    user, _ = register_and_login(gateway)
    answers = []
    for n in range(8):
        spoofed = {"X-Forwarded-For": f"203.0.113.{n + 1}", "X-Real-IP": f"198.51.100.{n + 1}"}
        wrong = {"username": user["username"], "password": "Not-the-password-1"}
        answers.append(gateway.post("/auth/login", json=wrong, headers=spoofed).status_code)
    assert set(answers[:5]) == {401}
    assert 429 in answers[5:], answers  # one client, whatever addresses it claims


def test_failures_on_one_account_do_not_lock_another_out(gateway: httpx.Client):
    target, _ = register_and_login(gateway)
    other, _ = register_and_login(gateway)
    for _ in range(6):
        gateway.post("/auth/login", json={"username": target["username"], "password": "Wrong-1x"})
    login = {"username": other["username"], "password": other["password"]}
    assert gateway.post("/auth/login", json=login).status_code == 200


def test_guessing_an_unknown_username_costs_as_much_as_a_known_one_and_says_the_same(
    gateway: httpx.Client,
):
    known, _ = register_and_login(gateway)
    fake = new_user()
    a = gateway.post("/auth/login", json={"username": known["username"], "password": "Wrong-1x"})
    b = gateway.post("/auth/login", json={"username": fake["username"], "password": "Wrong-1x"})
    assert a.status_code == b.status_code == 401
    assert a.json() == b.json()


def test_register_does_not_say_which_name_or_email_exists(gateway: httpx.Client):
    existing, _ = register_and_login(gateway)
    same_name = {**new_user(), "username": existing["username"]}
    same_email = {**new_user(), "email": existing["email"]}
    a = gateway.post("/auth/register", json=same_name)
    b = gateway.post("/auth/register", json=same_email)
    assert a.status_code == b.status_code == 409
    assert a.json() == b.json()


def test_redirects_name_no_internal_host(gateway: httpx.Client):
    _, tokens = register_and_login(gateway)
    for path in ("/api/ml-processing/models/", "/api/deep-learning/forecasters/"):
        answer = gateway.get(path, headers=bearer(tokens["access_token"]), follow_redirects=False)
        location = answer.headers.get("location", "")
        for service in CATALOG.services:
            assert f"{service}:" not in location, (path, location)
        assert answer.status_code < 500


@pytest.mark.parametrize(
    "url",
    [
        "ws://database-service:8003/",
        "ws://127.0.0.1:8001/ws",
        "ws://169.254.169.254/latest/meta-data",
        "ws://redis:6379/",
        "http://example.com/",
    ],
)
def test_feeds_cannot_reach_inside_the_network(gateway: httpx.Client, admin_token: str, url: str):
    # As the admin: an ordinary user is refused at the gateway (403) before data-bridge's own
    # checks, which are what this case is about.
    answer = gateway.post("/api/data-bridge/feeds", json={"url": url}, headers=bearer(admin_token))
    assert answer.status_code in (403, 422), answer.text
    detail = str(answer.json().get("detail", ""))
    for needle in ("Errno", "172.", "Connection refused", "Name or service"):
        assert needle not in detail, detail


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"\xff\xfe\xfa not utf-8", "application/json"),
        (b"[" * 5000 + b"]" * 5000, "application/json"),
        (b'{"ticks": ' + b"[" * 2000 + b"]" * 2000 + b"}", "application/json"),
        (b"x" * (2 * 1024 * 1024), "application/json"),
        (b'{"ticks": "\\ud800"}', "application/json"),
    ],
)
def test_hostile_bodies_are_refused_cleanly(
    gateway: httpx.Client, admin_token: str, body: bytes, content_type
):
    # The admin's token, so that POST /ticks reaches data-bridge rather than the gateway's 403.
    headers = {**bearer(admin_token), "Content-Type": content_type}
    for path in ("/api/data-bridge/ticks", "/api/ai-provider/v1/chat/completions", "/auth/login"):
        answer = gateway.post(path, content=body, headers=headers)
        assert 400 <= answer.status_code < 500, (path, answer.status_code, answer.text[:200])
