"""/auth/{path}: user-service's auth API; register, login and refresh are open."""

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from app.api.deps import ClientAddress, ClientsDep, enforce_rate_limit
from app.core.config import AUTH_SERVICE
from app.core.security import authenticate
from app.proxy import METHODS, BadPath, forward, forward_headers, upstream_url

# Everything else under /auth (me, logout, ...) needs a valid access token.
OPEN_PATHS = frozenset({"register", "login", "refresh"})

router = APIRouter(tags=["auth"], dependencies=[Depends(enforce_rate_limit)])


@router.api_route("/auth/{path:path}", methods=METHODS, include_in_schema=False)
async def auth(request: Request, path: str, clients: ClientsDep, client: ClientAddress) -> Response:
    """Forward unchanged: /auth/x -> user-service /auth/x."""
    settings = clients.settings
    base = settings.upstreams[AUTH_SERVICE]
    try:
        url = upstream_url(base, request, 0)
    except BadPath as exc:
        return JSONResponse({"detail": str(exc)}, status_code=400)
    identity = None
    if path.strip("/") not in OPEN_PATHS:
        identity = await authenticate(
            request.headers.get("authorization"), settings.jwt_secret, clients.redis
        )
    return await forward(
        request,
        clients.http,
        service=AUTH_SERVICE,
        url=url,
        headers=forward_headers(request, identity, client, settings.internal_token),
        deadline=settings.upstream_timeout,
        base=base,
        prefix="",
    )
