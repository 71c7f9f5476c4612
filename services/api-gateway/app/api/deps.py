"""Dependencies the routes declare: shared clients, rate limiting, authentication."""

from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request, status
from starlette.requests import HTTPConnection

from app.core.clients import Clients
from app.core.security import Identity, authenticate


def get_clients(request: Request) -> Clients:
    return request.app.state.clients


ClientsDep = Annotated[Clients, Depends(get_clients)]


async def enforce_rate_limit(connection: HTTPConnection, clients: ClientsDep) -> None:
    """429 once the socket peer (not a forgeable header) exceeds its per-minute budget.

    Takes any connection, so a WebSocket handshake counts against the same budget.
    """
    peer = connection.client.host if connection.client else "unknown"
    retry_after = await clients.limiter.hit(peer)
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
