"""WS /api/{service}/{path}: WebSockets of public services, behind the checks HTTP routes pass.

Browsers cannot set headers on a WebSocket, so the access token may also come as the `token`
query parameter; it is never forwarded. Refusals happen before the handshake is accepted, as
the HTTP answer the same request would get (401, 403, 404, 429, 503), where the server can send
one.
"""

import uuid
from urllib.parse import unquote_plus

from fastapi import APIRouter, HTTPException, WebSocket, status
from fastapi.responses import JSONResponse

from app.access import require_role
from app.api.deps import admit, get_client_address
from app.api.routes.services import public_service
from app.core.clients import Clients
from app.core.security import Identity
from app.proxy import BadPath, upstream_url
from app.wsproxy import refuse, relay, websocket_url
from servicekit.logging import request_id_var

TOKEN_PARAMETER = "token"  # noqa: S105 - a parameter name, not a password

router = APIRouter(tags=["services"])


def _request_id(websocket: WebSocket) -> str:
    """The client's X-Request-ID if sane, else a new one (servicekit's rule, which its
    middleware applies to HTTP requests only)."""
    incoming = websocket.headers.get("x-request-id", "")
    return incoming if 0 < len(incoming) <= 128 and incoming.isprintable() else uuid.uuid4().hex


def _credentials(websocket: WebSocket) -> str | None:
    """The Authorization header, or else a bearer header made of the `token` query parameter."""
    if header := websocket.headers.get("authorization"):
        return header
    token = websocket.query_params.get(TOKEN_PARAMETER)
    return f"Bearer {token}" if token else None


def query_without_token(query: bytes) -> bytes:
    """The raw query string minus every `token` parameter, the rest byte for byte as sent."""
    kept = [
        part
        for part in query.split(b"&")
        if part and unquote_plus(part.split(b"=", 1)[0].decode("latin-1")) != TOKEN_PARAMETER
    ]
    return b"&".join(kept)


async def _admit(
    websocket: WebSocket, clients: Clients, service: str, client: str
) -> tuple[Identity, str]:
    """The identity and upstream ws:// URL, or an HTTPException saying why not (HTTP's order)."""
    identity = await admit(
        clients,
        client,
        _credentials(websocket),
        route_check=lambda: public_service(service, clients),
    )
    assert identity is not None  # admit returns one when it identifies
    settings = clients.settings
    # The handshake is a GET: that is the method the rules see.
    require_role(settings, service, "GET", websocket.scope["path"], identity)
    query = query_without_token(websocket.scope.get("query_string", b""))
    try:
        url = upstream_url(settings.upstreams[service], websocket, 2, query=query)
    except BadPath as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail=str(exc)) from None
    return identity, websocket_url(url)


@router.websocket("/api/{service}")
@router.websocket("/api/{service}/{path:path}")
async def api_websocket(websocket: WebSocket, service: str) -> None:
    """Relay ws://gateway/api/<service>/x to ws://<service>/x."""
    clients: Clients = websocket.app.state.clients
    token = request_id_var.set(_request_id(websocket))
    client = await get_client_address(websocket, clients)
    try:
        try:
            identity, url = await _admit(websocket, clients, service, client)
        except HTTPException as exc:
            denial = JSONResponse(
                {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
            )
            await refuse(websocket, denial, str(exc.detail))
            return
        await relay(
            websocket,
            clients.redis,
            clients.settings,
            service=service,
            url=url,
            identity=identity,
            client=client,
        )
    finally:
        request_id_var.reset(token)
