"""WS /ws: live ticks and candles, per symbol and channel (policy in app/core/fanout.py).

Client -> server: `{"op": "subscribe" | "unsubscribe", "symbols": [...], "channels": [...]}`
(`channels` defaults to `["ticks"]`; a symbol may be `*`). The server answers each with
`{"type": "subscribed" | "unsubscribed", "symbols", "channels"}` or `{"type": "error",
"detail"}`, then streams `tick`, `candle` and `gap` messages.
"""

import asyncio
import contextlib

import orjson
from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from app.api.deps import WsBridgeDep
from app.core.candles import INTERVALS
from app.core.fanout import WILDCARD, Hub, Subscriber
from app.core.ticks import normalize_symbol

router = APIRouter(tags=["ws"])

CHANNELS = frozenset({"ticks", *(f"candles:{name}" for name in INTERVALS)})
MAX_TOPICS = 1000
CLOSE_TRY_AGAIN_LATER = 1013


class SubscriptionError(ValueError):
    """A client message we cannot act on; its text goes back to the client."""


def parse_request(text: str, max_bytes: int) -> tuple[str, list[str], list[str]]:
    """The op, symbols and channels of a client message (SubscriptionError otherwise)."""
    if len(text) > max_bytes:
        raise SubscriptionError(f"message larger than {max_bytes} bytes")
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise SubscriptionError("message is not valid JSON") from None
    if not isinstance(data, dict) or data.get("op") not in ("subscribe", "unsubscribe"):
        raise SubscriptionError('expected {"op": "subscribe" | "unsubscribe", ...}')
    symbols, channels = data.get("symbols"), data.get("channels", ["ticks"])
    if not isinstance(symbols, list) or not symbols or not isinstance(channels, list):
        raise SubscriptionError("symbols (non-empty) and channels are lists")
    try:
        names = [s if s == WILDCARD else normalize_symbol(s) for s in symbols]
    except ValueError as exc:
        raise SubscriptionError(str(exc)) from None
    unknown = [channel for channel in channels if channel not in CHANNELS]
    if unknown or not channels:
        raise SubscriptionError(f"channels are among {sorted(CHANNELS)}")
    return data["op"], names, channels


def apply(hub: Hub, subscriber: Subscriber, text: str, max_bytes: int) -> dict:
    """Act on one client message; the reply to send back."""
    try:
        op, symbols, channels = parse_request(text, max_bytes)
    except SubscriptionError as exc:
        return {"type": "error", "detail": str(exc)}
    topics = [(channel, symbol) for channel in channels for symbol in symbols]
    if op == "subscribe":
        if len(subscriber.topics | set(topics)) > MAX_TOPICS:
            return {"type": "error", "detail": f"at most {MAX_TOPICS} (channel, symbol) pairs"}
        hub.subscribe(subscriber, topics)
    else:
        hub.unsubscribe(subscriber, topics)
    return {"type": f"{op}d", "symbols": symbols, "channels": channels}


@router.websocket("/ws")
async def stream(websocket: WebSocket, bridge: WsBridgeDep) -> None:
    hub = bridge.pipeline.hub
    max_bytes = bridge.settings.ws_max_message_bytes
    await websocket.accept()
    if hub.full():
        await websocket.close(CLOSE_TRY_AGAIN_LATER, "too many subscribers")
        return
    subscriber = hub.add(websocket.send_text)
    sender = asyncio.create_task(subscriber.run(), name=f"subscriber-{subscriber.id}")
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
            text = message.get("text")
            if text is None:
                text = (message.get("bytes") or b"").decode("utf-8", "replace")
            reply = apply(hub, subscriber, text, max_bytes)
            await websocket.send_text(orjson.dumps(reply).decode())
    except (WebSocketDisconnect, RuntimeError):
        pass  # the client went away mid-send
    finally:
        hub.remove(subscriber)
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await sender
