"""Locations an upstream answers with, made into the gateway's public paths.

An upstream knows itself by its internal address (FastAPI builds a trailing-slash redirect
from the Host header the gateway sent: `http://ml-processing:8006/models`) and its paths from
its own root (`/jobs/7`). A client can follow neither: both become `/api/<service>/...` (or,
for user-service, whose paths are forwarded as they are, `/auth/...`).
"""

from urllib.parse import SplitResult, urlsplit, urlunsplit

LOCATION_HEADERS = frozenset({b"location", b"content-location"})
DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(url: SplitResult, scheme: str) -> tuple[str | None, int | None]:
    return url.hostname, url.port or DEFAULT_PORTS.get(scheme)


def public_location(location: str, base: str, prefix: str) -> str:
    """`location` as a client must follow it: a reference to the upstream at `base` (its URL,
    or a path from its root) moves under `prefix`; anything else is left as it is."""
    try:
        target, upstream = urlsplit(location), urlsplit(base)
        if target.netloc:
            # Protocol-relative (//host/...) takes the scheme of the request: the upstream's.
            scheme = target.scheme.lower() or upstream.scheme
            if _origin(target, scheme) != _origin(upstream, upstream.scheme):
                return location
        elif target.scheme or not target.path.startswith("/"):
            return location  # another scheme (mailto:), or relative: right as it is
    except ValueError:  # a port that is not a number
        return location
    path, base_path = target.path, upstream.path
    if base_path and path != base_path and not path.startswith(base_path + "/"):
        return location  # outside what the gateway routes to this upstream
    public = prefix + path[len(base_path) :]
    # Never `//host`: a client would read it as another site.
    public = "/" + public.lstrip("/") if public.startswith("//") or not public else public
    return urlunsplit(("", "", public, target.query, target.fragment))


def rewrite_locations(
    headers: list[tuple[bytes, bytes]], base: str, prefix: str
) -> list[tuple[bytes, bytes]]:
    """`headers` (lower-case names) with Location and Content-Location made public."""
    return [
        (name, public_location(value.decode("latin-1"), base, prefix).encode("latin-1"))
        if name in LOCATION_HEADERS
        else (name, value)
        for name, value in headers
    ]
