"""Dependencies shared by the routes, declared as Annotated types."""

from typing import Annotated

from fastapi import Depends, Request

from app.cache import ResultCache
from app.clients import Peers
from app.core.config import Settings
from app.limiter import WorkflowLimiter
from app.stats import WorkflowStats
from servicekit.deps import get_settings

# Headers naming the caller (set by the gateway from the token), passed on to ai-provider so
# it accounts each brief's cost to the user who asked for it.
FORWARDED_HEADERS = ("x-user-id", "x-username")


async def get_peers(request: Request) -> Peers:
    return request.app.state.peers


async def get_limiter(request: Request) -> WorkflowLimiter:
    return request.app.state.limiter


async def get_cache(request: Request) -> ResultCache:
    return request.app.state.cache


async def get_stats(request: Request) -> WorkflowStats:
    return request.app.state.stats


async def get_caller(request: Request) -> dict[str, str]:
    return {name: request.headers[name] for name in FORWARDED_HEADERS if name in request.headers}


SettingsDep = Annotated[Settings, Depends(get_settings)]
PeersDep = Annotated[Peers, Depends(get_peers)]
LimiterDep = Annotated[WorkflowLimiter, Depends(get_limiter)]
CacheDep = Annotated[ResultCache, Depends(get_cache)]
StatsDep = Annotated[WorkflowStats, Depends(get_stats)]
CallerDep = Annotated[dict[str, str], Depends(get_caller)]
