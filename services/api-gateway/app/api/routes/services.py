"""/api/{service}/{path}: the services listed in PUBLIC_SERVICES, behind a valid access token."""

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import JSONResponse, Response

from app.access import require_role
from app.api.deps import ClientAddress, ClientsDep, admit
from app.core.clients import Clients
from app.proxy import METHODS, BadPath, forward, forward_headers, upstream_url

router = APIRouter(tags=["services"])


def public_service(service: str, clients: Clients) -> str:
    """The service name if it is public; internal services stay unreachable from outside."""
    public = clients.settings.public_services
    if service not in public:
        listed = ", ".join(public) or "none"
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            detail=f"unknown service {service!r}; public services: {listed}",
        )
    return service


@router.api_route("/api/{service}", methods=METHODS, include_in_schema=False)
@router.api_route("/api/{service}/{path:path}", methods=METHODS, include_in_schema=False)
async def api(
    request: Request, service: str, clients: ClientsDep, client: ClientAddress
) -> Response:
    """Forward /api/<service>/x -> <service> /x, if the caller's role may call it.

    An unknown service is a 404 whether or not a token came (app.api.deps.admit's order)."""
    identity = await admit(
        clients,
        client,
        request.headers.get("authorization"),
        route_check=lambda: public_service(service, clients),
    )
    assert identity is not None  # admit returns one when it identifies
    settings = clients.settings
    require_role(settings, service, request.method, request.scope["path"], identity)
    base = settings.upstreams[service]
    try:
        url = upstream_url(base, request, 2)
    except BadPath as exc:
        return JSONResponse({"detail": str(exc)}, status_code=400)
    return await forward(
        request,
        clients.http,
        service=service,
        url=url,
        headers=forward_headers(request, identity, client, settings.internal_token),
        deadline=settings.upstream_timeout,
        base=base,
        prefix=f"/api/{service}",
    )
