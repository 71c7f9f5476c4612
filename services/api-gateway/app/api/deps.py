"""Dependencies the routes declare, and every request's admission: the rate limit and the
access token's session, in one Redis round trip."""

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, status
from starlette.requests import HTTPConnection

from app.clientaddress import client_address
from app.core.clients import Clients
from app.core.security import (
    Identity,
    bearer_token,
    decode_access_token,
    require_session,
    session_key,
)


async def get_clients(connection: HTTPConnection) -> Clients:
    return connection.app.state.clients


ClientsDep = Annotated[Clients, Depends(get_clients)]


async def get_client_address(connection: HTTPConnection, clients: ClientsDep) -> str:
    """The client's address: the peer, or what a trusted proxy in front of it says."""
    return client_address(connection, clients.settings.trusted_proxies)


# FastAPI computes it once per request, for the rate limit and the upstream's X-Real-IP alike.
ClientAddress = Annotated[str, Depends(get_client_address)]


async def admit(
    clients: Clients,
    client: str,
    authorization: str | None = None,
    *,
    identify: bool = True,
    route_check: Callable[[], None] | None = None,
) -> Identity | None:
    """Count the request against `client`'s budget and, when the route needs an identity
    (`identify`), check the access token and its session: one Redis round trip (a pipeline),
    the token's signature and claims checked before it, without I/O.

    Refusals in HTTP's order, whatever failed first: 429 over the limit (hammering with bad
    tokens is limited too; a WebSocket handshake counts against the same budget), then the
    route's own (`route_check` raises, e.g. an unknown service's 404), then 401 for the
    token, 503 when the session store did not answer (fail closed; the rate limit fails
    open), 401 for a revoked session."""
    identity, refused = None, None
    if identify:
        try:
            identity = decode_access_token(bearer_token(authorization), clients.settings.jwt_secret)
        except HTTPException as exc:
            refused = exc
    session = session_key(identity.session_id) if identity is not None else None
    counted = await clients.limiter.count(client, exists=session)
    if counted.retry_after is not None:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            detail=f"rate limit exceeded: {clients.limiter.limit} requests per minute",
            headers={"Retry-After": str(counted.retry_after)},
        )
    if route_check is not None:
        route_check()
    if refused is not None:
        raise refused
    return None if identity is None else require_session(identity, counted.exists)
