"""What the gateway forwards (headers, bodies) and how it reports upstream failures."""

import time
import uuid

from tests.utils import MAX_BODY, SLOW_DELAY, TIMEOUT, header_values


def test_identity_headers_come_from_the_token_only(gateway, session):
    response = gateway.get(
        "/api/echo-service/whoami",
        headers={
            **session.headers,
            "X-User-Id": "someone-else",
            "X-Username": "admin",
            "X-Internal-Token": "guessed",
            "X-Custom": "kept",
        },
    )
    echoed = response.json()
    assert header_values(echoed, "x-user-id") == [session.user_id]
    assert header_values(echoed, "x-username") == [session.username]
    # The client's guess is dropped; the upstream sees the gateway's own credential alone.
    (credential,) = header_values(echoed, "x-internal-token")
    assert credential.startswith("api-gateway:") and credential != "guessed"
    assert header_values(echoed, "x-custom") == ["kept"]
    # user-service checks the token itself for /auth/me and logout.
    assert header_values(echoed, "authorization") == [session.headers["Authorization"]]


def test_open_routes_strip_identity_headers_without_setting_them(gateway):
    response = gateway.post(
        "/auth/login",
        json={},
        headers={"X-User-Id": "1", "X-Username": "root", "X-Internal-Token": "t"},
    )
    echoed = response.json()
    for name in ("x-user-id", "x-username"):
        assert header_values(echoed, name) == []
    # Never the client's copy (the gateway's own token for user-service: test_forwarding).
    assert "t" not in header_values(echoed, "x-internal-token")


def test_hop_by_hop_headers_are_dropped(gateway, session):
    response = gateway.get(
        "/api/echo-service/x",
        headers={
            **session.headers,
            "Connection": "keep-alive, X-Private-Hop",
            "X-Private-Hop": "secret",
            "Keep-Alive": "timeout=5",
            "Proxy-Authorization": "Basic Zm9vOmJhcg==",
            "TE": "trailers",
        },
    )
    echoed = response.json()
    for name in ("x-private-hop", "keep-alive", "proxy-authorization", "te"):
        assert header_values(echoed, name) == [], name
    assert not any("private" in v.lower() for v in header_values(echoed, "connection"))


def test_forwarded_for_appends_the_client_address(make_gateway, session):
    gateway = make_gateway(peer=("10.9.8.7", 1234))
    echoed = gateway.get(
        "/api/echo-service/x", headers={**session.headers, "X-Forwarded-For": "203.0.113.5"}
    ).json()
    assert header_values(echoed, "x-forwarded-for") == ["203.0.113.5, 10.9.8.7"]
    echoed = gateway.get("/api/echo-service/x", headers=session.headers).json()
    assert header_values(echoed, "x-forwarded-for") == ["10.9.8.7"]


def test_request_id_is_propagated_and_echoed(gateway, session):
    response = gateway.get(
        "/api/echo-service/x", headers={**session.headers, "X-Request-ID": "req-abc-123"}
    )
    assert header_values(response.json(), "x-request-id") == ["req-abc-123"]
    assert response.headers.get_list("x-request-id") == ["req-abc-123"]


def test_request_id_is_generated_when_absent(gateway):
    response = gateway.post("/auth/login", json={})
    generated = response.headers["x-request-id"]
    assert len(generated) == 32
    assert header_values(response.json(), "x-request-id") == [generated]


def test_malformed_json_reaches_the_upstream_untouched(gateway, session):
    body = b'{"name": "half a document",'
    response = gateway.post(
        "/api/echo-service/items",
        content=body,
        headers={**session.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 200
    echoed = response.json()
    assert echoed["body"].encode("latin-1") == body
    assert header_values(echoed, "content-type") == ["application/json"]
    assert header_values(echoed, "content-length") == [str(len(body))]


def test_binary_body_reaches_the_upstream_untouched(gateway, session):
    body = bytes(range(256)) * 4
    response = gateway.put("/api/echo-service/blob", content=body, headers=session.headers)
    assert response.json()["body"].encode("latin-1") == body


def test_oversized_body_is_413(gateway, session):
    response = gateway.post(
        "/api/echo-service/items", content=b"x" * (MAX_BODY + 1), headers=session.headers
    )
    assert response.status_code == 413
    assert response.json()["detail"] == f"request body larger than {MAX_BODY} bytes"


def test_oversized_chunked_body_is_413(gateway):
    def chunks():
        for _ in range(MAX_BODY // 512 + 2):
            yield b"y" * 512

    response = gateway.post("/auth/register", content=chunks())
    assert response.status_code == 413


def test_upstream_down_is_503_naming_the_service(gateway, session):
    response = gateway.get("/api/down-service/x", headers=session.headers)
    assert response.status_code == 503
    assert response.json() == {"detail": "down-service is unavailable", "service": "down-service"}


def test_slow_upstream_is_504(gateway, session):
    started = time.monotonic()
    response = gateway.post("/api/slow-service/report", json={}, headers=session.headers)
    elapsed = time.monotonic() - started
    assert response.status_code == 504
    assert response.json()["service"] == "slow-service"
    assert TIMEOUT <= elapsed < TIMEOUT + 1.5


def test_upstream_slow_to_finish_its_body_is_504(gateway, session):
    # The head arrives at once and bytes keep coming, so no read ever times out: only the
    # deadline over the whole answer can stop it.
    started = time.monotonic()
    response = gateway.get(
        "/api/echo-service/trickle", params={"seconds": SLOW_DELAY}, headers=session.headers
    )
    assert response.status_code == 504
    assert response.json()["service"] == "echo-service"
    assert time.monotonic() - started < TIMEOUT + 1.5


def test_protocol_error_is_502_and_post_is_not_retried(gateway, session, upstreams):
    before = upstreams.garbage_connections[0]
    response = gateway.post("/api/garbage-service/orders", json={}, headers=session.headers)
    assert response.status_code == 502
    assert response.json()["service"] == "garbage-service"
    assert upstreams.garbage_connections[0] - before == 1


def test_idempotent_request_is_retried_once(gateway, session, upstreams):
    before = upstreams.garbage_connections[0]
    response = gateway.get("/api/garbage-service/orders", headers=session.headers)
    assert response.status_code == 502
    assert upstreams.garbage_connections[0] - before == 2


def test_idempotent_request_survives_a_reset_connection(gateway, session, upstreams):
    # A replica stopping under a rolling update resets the pooled connections it still holds:
    # a GET that met one is sent again (on a new connection) and the client never sees it.
    path = f"/{uuid.uuid4().hex}"
    response = gateway.get(f"/api/resetting-service{path}", headers=session.headers)
    assert response.status_code == 200
    assert response.text == "ok"
    assert upstreams.resetting_connections[path] == 2


def test_post_on_a_reset_connection_is_502_and_not_resent(gateway, session, upstreams):
    # The upstream may have acted on it before the reset: sending it again could do it twice.
    path = f"/{uuid.uuid4().hex}"
    response = gateway.post(f"/api/resetting-service{path}", json={}, headers=session.headers)
    assert response.status_code == 502
    assert response.json()["service"] == "resetting-service"
    assert upstreams.resetting_connections[path] == 1
