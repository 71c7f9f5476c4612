"""The route class of the internal data API: the token is checked before anything else."""

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from app.api.deps import verify_internal_token


class InternalRoute(APIRoute):
    """An APIRoute that answers 401 to callers without the internal token.

    Not a router dependency: FastAPI reads and parses the body before it runs dependencies, so
    an unauthenticated caller would get 400 or 422 back and learn how the API validates input.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            verify_internal_token(request)
            return await handler(request)

        return guarded
