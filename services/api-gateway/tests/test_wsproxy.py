"""The WebSocket relay's parts on their own: refusals, session re-checks, queries, logs."""

import logging

import pytest
from redis.asyncio import Redis
from starlette.responses import JSONResponse
from starlette.testclient import WebSocketDenialResponse
from starlette.websockets import WebSocket

from app.api.routes.websockets import query_without_token
from app.core.redaction import QueryTokenFilter
from app.wsproxy import refuse, websocket_url
from app.wspump import GATEWAY, Closure, clip, watch_session
from tests.utils import away_from_window_end


def _handshake_scope(extensions: dict) -> dict:
    return {
        "type": "websocket",
        "path": "/api/nope/ws",
        "raw_path": b"/api/nope/ws",
        "query_string": b"",
        "headers": [],
        "subprotocols": [],
        "extensions": extensions,
    }


async def _refusal_messages(extensions: dict) -> list[dict]:
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "websocket.connect"}

    async def send(message: dict) -> None:
        sent.append(message)

    websocket = WebSocket(_handshake_scope(extensions), receive, send)
    denial = JSONResponse({"detail": "unknown service 'nope'"}, status_code=404)
    await refuse(websocket, denial, "unknown service 'nope'")
    return sent


async def test_refusal_is_an_http_response_where_the_server_supports_one():
    sent = await _refusal_messages({"websocket.http.response": {}})
    assert [message["type"] for message in sent] == [
        "websocket.http.response.start",
        "websocket.http.response.body",
    ]
    assert sent[0]["status"] == 404
    assert (b"x-request-id", b"-") in sent[0]["headers"]
    assert sent[1]["body"] == b'{"detail":"unknown service \'nope\'"}'


async def test_refusal_is_a_close_before_accept_elsewhere():
    sent = await _refusal_messages({})
    assert sent == [{"type": "websocket.close", "code": 4404, "reason": "unknown service 'nope'"}]


async def test_session_check_fails_closed_when_the_store_is_down(upstreams):
    redis = Redis.from_url(upstreams.dead.replace("http", "redis"))
    try:
        closure = await watch_session(redis, "some-session", interval=0.01)
    finally:
        await redis.aclose()
    assert closure == Closure(GATEWAY, 1013, "session store unavailable")


def test_websocket_handshakes_count_against_the_rate_limit(make_gateway, session):
    gateway = make_gateway(rate_limit_per_minute=1)
    away_from_window_end()
    assert gateway.post("/auth/login", json={}).status_code == 200
    socket = gateway.websocket_connect("/api/echo-service/ws/echo", headers=session.headers)
    with pytest.raises(WebSocketDenialResponse) as caught, socket:
        pass
    assert caught.value.status_code == 429
    assert caught.value.json() == {"detail": "rate limit exceeded: 1 requests per minute"}
    assert int(caught.value.headers["retry-after"]) >= 1


@pytest.mark.parametrize(
    ("query", "forwarded"),
    [
        (b"", b""),
        (b"token=abc", b""),
        (b"a=1&token=abc&b=x%20y", b"a=1&b=x%20y"),
        (b"token=abc&%74oken=def&token&tokens=1&my_token=2", b"tokens=1&my_token=2"),
        (b"a=1&&b=", b"a=1&b="),
    ],
)
def test_only_token_parameters_are_removed_from_the_query(query, forwarded):
    assert query_without_token(query) == forwarded


def test_websocket_url_keeps_tls():
    assert websocket_url("http://data-bridge:8010/ws?x=1") == "ws://data-bridge:8010/ws?x=1"
    assert websocket_url("https://edge:443/ws") == "wss://edge:443/ws"


def test_close_reason_is_cut_to_a_control_frame_on_a_character_boundary():
    assert clip("short") == "short"
    clipped = clip("é" * 100)  # 200 bytes
    assert clipped == "é" * 61
    assert len(clipped.encode()) <= 123


def test_query_tokens_are_redacted_from_log_lines():
    record = logging.LogRecord(
        "uvicorn.error",
        logging.INFO,
        __file__,
        1,
        '%s - "WebSocket %s" [accepted]',
        ("127.0.0.1:5000", "/api/data-bridge/ws?a=1&token=eyJ.secret.sig&b=2"),
        None,
    )
    assert QueryTokenFilter().filter(record)
    assert record.getMessage() == (
        '127.0.0.1:5000 - "WebSocket /api/data-bridge/ws?a=1&token=[redacted]&b=2" [accepted]'
    )
