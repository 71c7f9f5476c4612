"""/auth/{path}: user-service's auth API; register, login and refresh are open."""

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import Response

from app.api.deps import ClientAddress, ClientsDep, admit
from app.core.config import AUTH_SERVICE
from app.proxy import METHODS, BadPath, forward, forward_headers, upstream_url

# Everything else under /auth (me, logout, ...) needs a valid access token.
OPEN_PATHS = frozenset({"register", "login", "refresh"})

router = APIRouter(tags=["auth"])


@router.api_route("/auth/{path:path}", methods=METHODS, include_in_schema=False)
async def auth(request: Request, path: str, clients: ClientsDep, client: ClientAddress) -> Response:
    """Forward unchanged: /auth/x -> user-service /auth/x (a path with dot segments is a 400,
    before its token is looked at)."""
    settings = clients.settings
    base = settings.upstreams[AUTH_SERVICE]
    url = ""

    def route_check() -> None:
        nonlocal url
        try:
            url = upstream_url(base, request, 0)
        except BadPath as exc:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, detail=str(exc)) from None

    identity = await admit(
        clients,
        client,
        request.headers.get("authorization"),
        identify=path.strip("/") not in OPEN_PATHS,
        route_check=route_check,
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
