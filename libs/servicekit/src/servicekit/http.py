"""HTTP client for calls between services: timeouts, retries with backoff, request-id and
internal-token propagation.

Retries are safe by construction: a request that never reached the peer (connect errors) is
retried for any method; a 502/503/504 answer only for idempotent methods.
"""

import httpx
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from servicekit.logging import request_id_var

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRY_STATUSES = frozenset({502, 503, 504})


class UpstreamStatusError(Exception):
    """A retryable status that outlived its retries; carries the last response."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(
            f"{response.request.method} {response.request.url} -> {response.status_code}"
        )
        self.response = response


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, UpstreamStatusError))


class ServiceClient:
    """A pooled client for one peer service."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 5.0,
        attempts: int = 3,
        internal_token: str = "",
        max_connections: int = 100,
    ) -> None:
        headers = {"x-internal-token": internal_token} if internal_token else {}
        self.attempts = attempts
        self.http = httpx.AsyncClient(
            base_url=base_url,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 2.0)),
            headers=headers,
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=20),
        )

    async def request(self, method: str, path: str, **kwargs) -> httpx.Response:
        """Send a request, retrying what is safe to retry; returns the final response."""
        headers = {"x-request-id": request_id_var.get(), **kwargs.pop("headers", {})}
        method = method.upper()
        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(self.attempts),
                wait=wait_exponential_jitter(multiplier=0.05, max=1.0),
                retry=retry_if_exception(_retryable),
                reraise=True,
            ):
                with attempt:
                    response = await self.http.request(method, path, headers=headers, **kwargs)
                    if response.status_code in RETRY_STATUSES and method in IDEMPOTENT:
                        raise UpstreamStatusError(response)
        except UpstreamStatusError as exc:
            return exc.response
        return response

    async def get(self, path: str, **kwargs) -> httpx.Response:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, **kwargs) -> httpx.Response:
        return await self.request("POST", path, **kwargs)

    async def patch(self, path: str, **kwargs) -> httpx.Response:
        return await self.request("PATCH", path, **kwargs)

    async def aclose(self) -> None:
        await self.http.aclose()
