"""Which upstream feeds may be connected to: FEED_ALLOWED_HOSTS and FEED_ALLOW_PRIVATE.

A feed URL comes from any caller of POST /feeds: without this policy the bridge would open
connections to any host and port of the stack's network on their behalf.

- The URL's host and port must match a pattern of FEED_ALLOWED_HOSTS: `host`, `host:port`,
  `[ipv6]`, `[ipv6]:port` or `*.domain[:port]` (names under the domain, not the domain itself);
  no port means any port. Empty allows nothing. A bare `*`, or one over a single label (`*.com`),
  is refused: it would make the list meaningless, and the address check below would be all
  that is left between a caller and the internet.
- Unless FEED_ALLOW_PRIVATE, the host must be public: a literal address, and every address a
  name resolves to, must be globally routable and not multicast; names only an internal
  resolver answers (one label, like the stack's service names, and `localhost`, `.local`,
  `.internal`, `.home.arpa`) are refused before they are resolved.

The check resolves the name and hands back the address it checked; the feed connects to that
address, never to the name again, so a DNS answer that changes in between (rebinding) cannot
point it elsewhere. It is repeated at every (re)connect.
"""

import asyncio
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]

DEFAULT_PORTS = {"ws": 80, "wss": 443}
# Special-use names (RFC 6761, 6762, 8375) and the usual cloud-internal suffix.
INTERNAL_SUFFIXES = ("localhost", "local", "internal", "home.arpa")
NAT64 = ipaddress.ip_network("64:ff9b::/96")
NAME = re.compile(r"^[a-z0-9_-]+(\.[a-z0-9_-]+)*$")
RESOLVE_TIMEOUT = 5.0

NOT_ALLOWED = "feed host not allowed: it must match FEED_ALLOWED_HOSTS (set by the operator)"
INTERNAL = (
    "feed host refused: internal addresses and names are allowed only with FEED_ALLOW_PRIVATE"
)


class PolicyError(Exception):
    """A feed URL the policy refuses; str() is safe to show the caller, `detail` is for logs."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.detail = detail


class ResolveError(Exception):
    """The host did not resolve (now): a connection failure, not a refusal."""


def normalize_host(host: str) -> str:
    """The host as compared: lower case, no final dot, addresses canonical (ValueError)."""
    host = host.lower().rstrip(".")
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if not NAME.match(host):
        raise ValueError(f"{host!r} is not a host name or an address")
    return host


def is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def internal_address(ip: IPAddress) -> bool:
    """True unless `ip` is a globally routable unicast address (or embeds an internal one)."""
    if ip.is_multicast or not ip.is_global:
        return True
    if isinstance(ip, ipaddress.IPv6Address):
        # IPv4 carried inside IPv6 reaches that IPv4 address: judge it by that.
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        return embedded is not None and internal_address(embedded)
    return False


def internal_name(host: str) -> bool:
    """Names no public DNS answers: one label (a service, a container) or a special suffix."""
    return "." not in host or any(host == s or host.endswith("." + s) for s in INTERNAL_SUFFIXES)


def internal_host(host: str) -> bool:
    """An internal address, or a name that is internal without being resolved."""
    return internal_address(ipaddress.ip_address(host)) if is_address(host) else internal_name(host)


@dataclass(frozen=True)
class HostPattern:
    """One entry of FEED_ALLOWED_HOSTS; `host` starts with a dot for `*.domain`."""

    host: str
    port: int | None

    def matches(self, host: str, port: int) -> bool:
        if self.port is not None and port != self.port:
            return False
        return host.endswith(self.host) if self.host.startswith(".") else host == self.host


def parse_patterns(text: str) -> tuple[HostPattern, ...]:
    """FEED_ALLOWED_HOSTS (comma-separated) as patterns; ValueError names the bad entry."""
    patterns = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        try:
            parts = urlsplit(f"//{item}")
            if parts.path or parts.query or parts.fragment or parts.username or not parts.hostname:
                raise ValueError("not host[:port]")
            wildcard = parts.hostname.startswith("*.")
            host = normalize_host(parts.hostname[2:] if wildcard else parts.hostname)
            if wildcard and (is_address(host) or "." not in host):
                raise ValueError("a wildcard must cover a domain of two labels or more")
            patterns.append(HostPattern(f".{host}" if wildcard else host, parts.port))
        except ValueError as exc:
            raise ValueError(
                f"FEED_ALLOWED_HOSTS: {item!r} is not host, host:port or *.domain ({exc})"
            ) from None
    return tuple(patterns)


async def resolve(host: str, port: int) -> list[str]:
    """The host's addresses, in the order the system resolver prefers them."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


@dataclass(frozen=True)
class Target:
    """Where a checked feed URL connects: the checked address; `host` stays for Host and TLS."""

    host: str
    address: str
    port: int


class FeedPolicy:
    """Checks feed URLs; `resolve` is an attribute so that tests can answer for DNS."""

    def __init__(
        self, patterns: tuple[HostPattern, ...], allow_private: bool, resolve: Resolver = resolve
    ) -> None:
        self.patterns = patterns
        self.allow_private = allow_private
        self.resolve = resolve

    def check_url(self, url: str) -> tuple[str, int]:
        """The URL's host and port if the patterns allow them, without resolving (PolicyError)."""
        parts = urlsplit(url)
        if parts.scheme not in DEFAULT_PORTS:
            raise PolicyError("a feed URL is ws://host[:port]/path or wss://...")
        try:
            host = normalize_host(parts.hostname or "")
            port = DEFAULT_PORTS[parts.scheme] if parts.port is None else parts.port
        except ValueError:
            raise PolicyError("the feed URL's host or port is not valid") from None
        if not any(pattern.matches(host, port) for pattern in self.patterns):
            raise PolicyError(NOT_ALLOWED, f"{host}:{port} matches no pattern")
        if not self.allow_private and internal_host(host):
            raise PolicyError(INTERNAL, f"{host} is internal")
        return host, port

    async def target(self, url: str) -> Target:
        """Check `url`, resolve its host and check every address (PolicyError, ResolveError)."""
        host, port = self.check_url(url)
        addresses = [host]
        if not is_address(host):
            try:
                async with asyncio.timeout(RESOLVE_TIMEOUT):
                    addresses = await self.resolve(host, port)
            except (OSError, TimeoutError) as exc:
                raise ResolveError(f"{host}: {exc!r}") from exc
            if not addresses:
                raise ResolveError(f"{host} has no address")
        if not self.allow_private:
            # One internal address makes the name internal: which address a connection gets is
            # up to the resolver, and whoever owns the name may vary its answers.
            internal = [a for a in addresses if internal_address(ipaddress.ip_address(a))]
            if internal:
                raise PolicyError(INTERNAL, f"{host} resolves to {', '.join(internal)}")
        return Target(host, addresses[0], port)
