"""Server-sent events through the gateway (ai-provider's `stream: true`): each event reaches
the client as the upstream sends it, and a client that leaves closes the upstream's stream."""

import time
import uuid

import httpx

from tests.upstreams import EVENT_STREAMS


def _open(base: str, session, case: str):
    client = httpx.Client(base_url=base.replace("ws://", "http://"), headers=session.headers)
    return client, client.stream("GET", f"/api/echo-service/events?id={case}", timeout=10)


def _wait_for_end(case: str) -> str | None:
    """How the upstream's stream ended (bounded wait: it ends when the gateway lets go)."""
    deadline = time.monotonic() + 5
    while EVENT_STREAMS[case]["ended"] is None and time.monotonic() < deadline:
        time.sleep(0.01)
    return EVENT_STREAMS[case]["ended"]


def test_an_event_reaches_the_client_before_the_stream_is_over(live_gateway, session):
    case = uuid.uuid4().hex
    client, request = _open(live_gateway, session, case)
    with client, request as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = response.iter_lines()
        # The upstream holds everything after its first event until released: reading it
        # here proves the gateway passed it on without waiting for the rest.
        assert next(line for line in lines if line) == "data: first"
        assert EVENT_STREAMS[case]["ended"] is None
        EVENT_STREAMS[case]["release"].set()
        assert [line for line in lines if line] == ["data: second", "data: [DONE]"]
    assert _wait_for_end(case) == "finished"


def test_a_client_that_leaves_mid_stream_closes_the_upstream_stream(live_gateway, session):
    case = uuid.uuid4().hex
    client, request = _open(live_gateway, session, case)
    with client, request as response:
        assert next(line for line in response.iter_lines() if line) == "data: first"
    # The client is gone; the upstream, still held, must see its stream closed.
    try:
        assert _wait_for_end(case) == "closed"
    finally:
        EVENT_STREAMS[case]["release"].set()
