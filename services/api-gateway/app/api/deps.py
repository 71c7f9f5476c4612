"""Dependencies the routes declare: shared clients, rate limiting, authentication."""

from typing import Annotated

from fastapi import Depends, Header, HTTPException, status
from starlette.requests import HTTPConnection

from app.clientaddress import client_address
from app.core.clients import Clients
from app.core.security import Identity, authenticate


def get_clients(connection: HTTPConnection) -> Clients:
    return connection.app.state.clients


ClientsDep = Annotated[Clients, Depends(get_clients)]


def get_client_address(connection: HTTPConnection, clients: ClientsDep) -> str:
    """The client's address: the peer, or what a trusted proxy in front of it says."""
    return client_address(connection, clients.settings.trusted_proxies)


# FastAPI computes it once per request, for the rate limit and the upstream's X-Real-IP alike.
ClientAddress = Annotated[str, Depends(get_client_address)]


async def enforce_rate_limit(clients: ClientsDep, client: ClientAddress) -> None:
    """429 once the client (never a header an untrusted peer wrote) exceeds its budget.

    A WebSocket handshake calls it too, so it counts against the same budget.
    """
    retry_after = await clients.limiter.hit(client)
    if retry_after is not None:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            detail=f"rate limit exceeded: {clients.limiter.limit} requests per minute",
            headers={"Retry-After": str(retry_after)},
        )


async def current_identity(
    clients: ClientsDep,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Identity:
    return await authenticate(authorization, clients.settings.jwt_secret, clients.redis)


CurrentIdentity = Annotated[Identity, Depends(current_identity)]
