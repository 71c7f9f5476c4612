"""WS /api/<service>/...: through a gateway served by uvicorn, with a real WebSocket client.

The upstream is the echo app's WebSocket (tests/upstreams.py): it first describes the
handshake it saw, then echoes, and records how its peer closed under the `id` query value.
"""

import asyncio
import json
import logging
import uuid

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.upstreams import WS_CLOSES
from tests.utils import TIMEOUT, WS_MAX_MESSAGE, header_values, make_token

# Every wait in these tests is bounded by this; nothing should come close to it.
PATIENCE = 5.0


async def _hello(ws: ClientConnection) -> dict:
    """The upstream's description of the handshake it received."""
    return json.loads(await asyncio.wait_for(ws.recv(), PATIENCE))


async def _closed(ws: ClientConnection) -> tuple[int | None, str | None]:
    """Wait for the gateway to close `ws`; its close code and reason."""
    with pytest.raises(ConnectionClosed):
        while True:
            await asyncio.wait_for(ws.recv(), PATIENCE)
    return ws.close_code, ws.close_reason


async def _upstream_saw_close(case: str) -> tuple[int, str]:
    """How the echo upstream's peer (the gateway) closed the socket opened with `id=case`."""
    for _ in range(int(PATIENCE / 0.02)):
        if case in WS_CLOSES:
            return WS_CLOSES.pop(case)
        await asyncio.sleep(0.02)
    raise AssertionError(f"the upstream never saw socket {case} close")


async def _refusal(url: str, **kwargs) -> tuple[int, dict, dict]:
    """Status, JSON body and headers of a refused handshake."""
    with pytest.raises(InvalidStatus) as caught:
        async with connect(url, open_timeout=PATIENCE, **kwargs):
            pass
    response = caught.value.response
    return response.status_code, json.loads(response.body), response.headers


async def test_text_and_binary_round_trip(live_gateway, session):
    url = f"{live_gateway}/api/echo-service/ws/echo?x=1"
    async with connect(url, additional_headers=session.headers) as ws:
        hello = await _hello(ws)
        assert hello["path"] == "/ws/echo"
        assert hello["query"] == "x=1"
        await ws.send("hello")
        assert await ws.recv() == "hello"
        await ws.send(bytes(range(256)))
        assert await ws.recv() == bytes(range(256))
        # Exactly the limit passes, counted in UTF-8 bytes (each "é" is two).
        largest = "é" * (WS_MAX_MESSAGE // 2)
        await ws.send(largest)
        assert await ws.recv() == largest


async def test_both_directions_flow_at_once(live_gateway, session):
    sent = [f"text {n}" if n % 2 else f"bytes {n}".encode() for n in range(200)]
    async with connect(
        f"{live_gateway}/api/echo-service/ws/echo", additional_headers=session.headers
    ) as ws:
        await _hello(ws)

        async def send_all() -> None:
            for message in sent:
                await ws.send(message)

        async def receive_all() -> list:
            return [await ws.recv() for _ in sent]

        _, received = await asyncio.wait_for(asyncio.gather(send_all(), receive_all()), PATIENCE)
    assert received == sent  # order and frame type (str or bytes) both kept


async def test_token_in_query_is_accepted_and_not_forwarded(live_gateway, session):
    url = f"{live_gateway}/api/echo-service/ws/echo?a=1&token={session.token}&b=x%20y"
    async with connect(url) as ws:
        hello = await _hello(ws)
    assert hello["query"] == "a=1&b=x%20y"
    assert header_values(hello, "x-user-id") == [session.user_id]
    assert header_values(hello, "authorization") == []


async def test_identity_and_tracing_headers_reach_the_upstream(live_gateway, session):
    headers = {
        **session.headers,
        "X-Request-ID": "ws-req-123",
        "X-User-Id": "someone-else",
        "X-Username": "admin",
        "X-Internal-Token": "guessed",
        "X-Forwarded-For": "203.0.113.5",
        "X-Custom": "kept",
    }
    url = f"{live_gateway}/api/echo-service/ws/echo"
    async with connect(url, additional_headers=headers, user_agent_header="probe/1.0") as ws:
        hello = await _hello(ws)
        assert ws.response.headers["x-request-id"] == "ws-req-123"
    assert header_values(hello, "x-user-id") == [session.user_id]
    assert header_values(hello, "x-username") == [session.username]
    assert header_values(hello, "x-request-id") == ["ws-req-123"]
    assert header_values(hello, "x-forwarded-for") == ["203.0.113.5, 127.0.0.1"]
    # A loopback peer is a trusted proxy by default: its client is the one it names.
    assert header_values(hello, "x-real-ip") == ["203.0.113.5"]
    (credential,) = header_values(hello, "x-internal-token")  # the gateway's, not the guess
    assert credential.startswith("api-gateway:") and credential != "guessed"
    assert header_values(hello, "x-custom") == ["kept"]
    # The client's own handshake headers are replaced by the gateway's, not doubled.
    assert header_values(hello, "user-agent") == ["probe/1.0"]
    assert len(header_values(hello, "sec-websocket-key")) == 1
    assert len(header_values(hello, "host")) == 1


async def test_subprotocol_is_negotiated_with_the_upstream(live_gateway, session):
    url = f"{live_gateway}/api/echo-service/ws/echo"
    offered = ["v2.market", "v1.market"]
    async with connect(url, additional_headers=session.headers, subprotocols=offered) as ws:
        await _hello(ws)
        assert ws.subprotocol == "v2.market"


@pytest.mark.parametrize(
    ("token_kwargs", "detail"),
    [
        (None, "missing bearer token"),
        ({"secret": "another-secret-0123456789abcdef012345"}, "invalid token"),
        ({"expires_in": -60}, "token expired"),
        ({"token_type": "refresh"}, "invalid token: not an access token"),
    ],
    ids=["no-token", "forged", "expired", "refresh-token"],
)
@pytest.mark.parametrize("via", ["header", "query"])
async def test_bad_credentials_are_refused_with_401(
    live_gateway, session, token_kwargs, detail, via
):
    url = f"{live_gateway}/api/echo-service/ws/echo"
    headers = {}
    if token_kwargs is not None:
        token = make_token(sub=session.user_id, sid=session.sid, **token_kwargs)
        if via == "header":
            headers["Authorization"] = f"Bearer {token}"
        else:
            url += f"?token={token}"
    status, body, response_headers = await _refusal(url, additional_headers=headers)
    assert status == 401
    assert body["detail"].startswith(detail)
    assert response_headers["www-authenticate"].startswith("Bearer")


async def test_revoked_session_is_refused(live_gateway, session, redis_client):
    redis_client.delete(f"session:{session.sid}")  # what logout does
    url = f"{live_gateway}/api/echo-service/ws/echo?token={session.token}"
    status, body, _ = await _refusal(url)
    assert (status, body) == (401, {"detail": "session revoked"})


@pytest.mark.parametrize("service", ["database-service", "user-service", "nope"])
async def test_non_public_services_are_refused_with_404(live_gateway, session, service):
    url = f"{live_gateway}/api/{service}/ws/echo"
    status, body, _ = await _refusal(url, additional_headers=session.headers)
    assert status == 404
    assert body["detail"].startswith(f"unknown service '{service}'; public services: echo-service")
    # Unknown is unknown, token or not.
    status, _, _ = await _refusal(url)
    assert status == 404


async def test_dot_segments_are_refused(live_gateway, session):
    url = f"{live_gateway}/api/echo-service/ws/%2e%2e/echo"
    status, body, _ = await _refusal(url, additional_headers=session.headers)
    assert status == 400
    assert "segments" in body["detail"]


async def test_upstream_refusal_is_relayed(live_gateway, session):
    url = f"{live_gateway}/api/echo-service/ws/deny"
    status, body, headers = await _refusal(url, additional_headers=session.headers)
    assert (status, body) == (404, {"detail": "no socket here"})
    assert headers["x-request-id"]


async def test_upstream_down_closes_with_1013_and_reason(live_gateway, session):
    url = f"{live_gateway}/api/down-service/ws"
    async with connect(url, additional_headers=session.headers) as ws:
        assert await _closed(ws) == (1013, "down-service is unavailable")


async def test_upstream_without_websocket_protocol_closes_with_1014(live_gateway, session):
    url = f"{live_gateway}/api/garbage-service/ws"
    async with connect(url, additional_headers=session.headers) as ws:
        assert await _closed(ws) == (1014, "garbage-service sent an invalid handshake")


async def test_upstream_close_code_and_reason_reach_the_client(live_gateway, session):
    async with connect(
        f"{live_gateway}/api/echo-service/ws/echo", additional_headers=session.headers
    ) as ws:
        await _hello(ws)
        await ws.send("close 4001 done here")
        assert await _closed(ws) == (4001, "done here")


async def test_client_close_code_and_reason_reach_the_upstream(live_gateway, session):
    case = uuid.uuid4().hex
    async with connect(
        f"{live_gateway}/api/echo-service/ws/echo?id={case}", additional_headers=session.headers
    ) as ws:
        await _hello(ws)
        await ws.close(4002, "bye now")
    assert await _upstream_saw_close(case) == (4002, "bye now")


async def test_logout_while_connected_closes_both_ends(live_gateway, session, redis_client):
    case = uuid.uuid4().hex
    async with connect(
        f"{live_gateway}/api/echo-service/ws/echo?id={case}", additional_headers=session.headers
    ) as ws:
        await _hello(ws)
        await ws.send("still here")
        assert await ws.recv() == "still here"
        redis_client.delete(f"session:{session.sid}")
        assert await _closed(ws) == (1008, "session revoked")
    assert await _upstream_saw_close(case) == (1001, "session revoked")


async def test_oversized_client_message_closes_with_1009(live_gateway, session):
    case = uuid.uuid4().hex
    async with connect(
        f"{live_gateway}/api/echo-service/ws/echo?id={case}", additional_headers=session.headers
    ) as ws:
        await _hello(ws)
        await ws.send(b"x" * (WS_MAX_MESSAGE + 1))
        assert await _closed(ws) == (1009, f"message larger than {WS_MAX_MESSAGE} bytes")
    # The upstream never got the message, only the news that its peer went away.
    assert (await _upstream_saw_close(case))[0] == 1001


async def test_oversized_upstream_message_closes_with_1009(live_gateway, session):
    base = f"{live_gateway}/api/echo-service/ws/size"
    async with connect(f"{base}/{WS_MAX_MESSAGE}", additional_headers=session.headers) as ws:
        assert len(await asyncio.wait_for(ws.recv(), PATIENCE)) == WS_MAX_MESSAGE
    async with connect(f"{base}/{WS_MAX_MESSAGE + 1}", additional_headers=session.headers) as ws:
        assert await _closed(ws) == (1009, "echo-service sent a message too big")


async def test_upstream_silent_during_handshake_closes_with_1013(
    make_live_gateway, upstreams, session
):
    gateway = make_live_gateway(
        upstreams={"user-service": upstreams.echo, "silent-service": upstreams.silent},
        public_services=["silent-service"],
    )
    async with connect(
        f"{gateway}/api/silent-service/ws", additional_headers=session.headers
    ) as ws:
        assert await _closed(ws) == (1013, f"silent-service did not answer within {TIMEOUT:g}s")


async def test_refusals_log_no_server_error(live_gateway, session):
    # uvicorn logs an error when an app returns before it considers the handshake done.
    errors: list[logging.LogRecord] = []
    handler = logging.Handler(logging.ERROR)
    handler.emit = errors.append  # type: ignore[method-assign]
    server_log = logging.getLogger("uvicorn.error")
    server_log.addHandler(handler)
    try:
        for _ in range(5):
            assert (await _refusal(f"{live_gateway}/api/echo-service/ws/echo"))[0] == 401
        await asyncio.sleep(0.3)  # the server logs after the client has its answer
    finally:
        server_log.removeHandler(handler)
    assert [record.getMessage() for record in errors] == []
