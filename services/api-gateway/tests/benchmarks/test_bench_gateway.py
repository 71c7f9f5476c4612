"""The gateway's hot path, in process: every authenticated request verifies a JWT, checks its
session in Redis, counts against the rate limit, filters the client's headers and forwards.

The pure steps are measured alone; `test_forwarded_request` measures them all together, through
the real app (TestClient) with the real Redis and a local echo upstream standing in for
user-service, so it includes the test client's own overhead (one thread hop per request).
"""

import pytest
from starlette.requests import Request

from app.core.security import Identity, bearer_token, decode_access_token
from app.proxy import forward_headers, upstream_url
from tests.utils import SECRET, make_token

# What a browser or SDK typically sends, plus identity headers a client must not forge.
CLIENT_HEADERS = [
    (b"host", b"127.0.0.1:8000"),
    (b"user-agent", b"python-httpx/0.28.1"),
    (b"accept", b"application/json"),
    (b"accept-encoding", b"gzip, deflate"),
    (b"connection", b"keep-alive"),
    (b"authorization", b"Bearer x"),
    (b"x-forwarded-for", b"203.0.113.7"),
    (b"x-user-id", b"forged"),
    (b"x-internal-token", b"guessed"),
    (b"content-type", b"application/json"),
]


@pytest.fixture(scope="module")
def token() -> str:
    return make_token(username="bench-user")


@pytest.fixture(scope="module")
def request_() -> Request:
    return Request(
        {
            "type": "http",
            "method": "GET",
            "scheme": "http",
            "path": "/auth/me",
            "raw_path": b"/auth/me",
            "query_string": b"",
            "headers": CLIENT_HEADERS,
            "client": ("172.18.0.1", 51234),
            "server": ("127.0.0.1", 8000),
            "http_version": "1.1",
        }
    )


def test_decode_access_token(benchmark, token: str) -> None:
    identity = benchmark(decode_access_token, token, SECRET)
    assert identity.username == "bench-user"


def test_bearer_and_decode(benchmark, token: str) -> None:
    header = f"Bearer {token}"
    identity = benchmark(lambda: decode_access_token(bearer_token(header), SECRET))
    assert identity.session_id


def test_forward_headers(benchmark, request_: Request) -> None:
    identity = Identity(user_id="u-1", username="bench-user", session_id="s-1")
    credential = "api-gateway:bench-secret"
    headers = benchmark(forward_headers, request_, identity, "203.0.113.7", credential)
    names = [name for name, _ in headers]
    assert names.count(b"x-internal-token") == 1
    assert dict(headers)[b"x-internal-token"] == credential.encode()
    assert b"connection" not in names
    assert dict(headers)[b"x-user-id"] == b"u-1"
    assert dict(headers)[b"x-real-ip"] == b"203.0.113.7"


def test_upstream_url(benchmark, request_: Request) -> None:
    url = benchmark(upstream_url, "http://user-service:8008", request_, 0)
    assert url == "http://user-service:8008/auth/me"


def test_forwarded_request(benchmark, make_gateway, session) -> None:
    """Rate limit + JWT + session check (Redis) + proxy to the echo upstream and back."""
    # Far above what a benchmark sends: the limit is counted in Redis all the same.
    gateway = make_gateway(rate_limit_per_minute=100_000_000)
    response = benchmark(gateway.get, "/auth/me", headers=session.headers)
    assert response.status_code == 200, response.text


def test_websocket_message_round_trip(benchmark, make_live_gateway, session) -> None:
    """One text message client -> gateway -> echo upstream -> gateway -> client, over loopback
    through uvicorn (the gateway's relay tasks, not the handshake, are what is measured)."""
    from websockets.sync.client import connect

    url = f"{make_live_gateway()}/api/echo-service/ws/echo"
    with connect(url, additional_headers=session.headers, open_timeout=5) as ws:
        ws.recv(timeout=5)  # the upstream's description of the handshake

        def round_trip() -> str | bytes:
            ws.send("tick")
            return ws.recv(timeout=5)

        assert benchmark(round_trip) == "tick"
