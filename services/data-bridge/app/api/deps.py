"""Dependencies shared by the routes, declared as Annotated types."""

from typing import Annotated

from fastapi import Depends, HTTPException, Request, WebSocket, status

from app.core.bridge import Bridge
from app.core.config import Settings
from app.core.feeds import FeedManager
from app.core.pipeline import Pipeline
from app.core.replays import ReplayManager


async def get_bridge(request: Request) -> Bridge:
    return request.app.state.bridge


async def get_ws_bridge(websocket: WebSocket) -> Bridge:
    return websocket.app.state.bridge


BridgeDep = Annotated[Bridge, Depends(get_bridge)]


async def get_settings(bridge: BridgeDep) -> Settings:
    return bridge.settings


async def get_pipeline(bridge: BridgeDep) -> Pipeline:
    return bridge.pipeline


async def get_replays(bridge: BridgeDep) -> ReplayManager:
    return bridge.replays


async def get_feeds(bridge: BridgeDep) -> FeedManager:
    return bridge.feeds


SettingsDep = Annotated[Settings, Depends(get_settings)]
PipelineDep = Annotated[Pipeline, Depends(get_pipeline)]
ReplaysDep = Annotated[ReplayManager, Depends(get_replays)]
FeedsDep = Annotated[FeedManager, Depends(get_feeds)]
WsBridgeDep = Annotated[Bridge, Depends(get_ws_bridge)]


def busy(detail: str) -> HTTPException:
    """503 with Retry-After: the outbox is full, come back when storage caught up."""
    return HTTPException(
        status.HTTP_503_SERVICE_UNAVAILABLE, detail=detail, headers={"Retry-After": "1"}
    )
