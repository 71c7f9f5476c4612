"""Feed policy: FEED_ALLOWED_HOSTS patterns, internal addresses and names, resolution."""

import ipaddress

import pytest
from pydantic import ValidationError

from app.core.config import Settings
from app.core.feedpolicy import (
    FeedPolicy,
    PolicyError,
    ResolveError,
    internal_address,
    parse_patterns,
)


def policy(allowed: str, allow_private: bool = False, **answers: list[str]) -> FeedPolicy:
    """A policy whose resolver answers from `answers` (host with dots as underscores)."""

    async def resolve(host: str, port: int) -> list[str]:
        if host.replace(".", "_") not in answers:
            raise OSError(f"no such host {host}")
        return answers[host.replace(".", "_")]

    return FeedPolicy(parse_patterns(allowed), allow_private, resolve=resolve)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1", "127.8.9.10", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1",
        "169.254.169.254", "0.0.0.0", "100.64.0.1", "224.0.0.1", "239.255.255.250",
        "255.255.255.255", "::1", "::", "fe80::1", "fc00::1", "fd12:3456::1", "ff02::1", "ff0e::1",
        "::ffff:127.0.0.1", "::ffff:10.0.0.1", "2002:a00:1::", "64:ff9b::a00:1",
    ],
)  # fmt: skip
def test_internal_addresses(address: str) -> None:
    assert internal_address(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700::1111"])
def test_public_addresses(address: str) -> None:
    assert not internal_address(ipaddress.ip_address(address))


def test_patterns_match_host_port_and_subdomains() -> None:
    rules = parse_patterns(" feeds.example.com , *.Ticks.Example.org:443,[2606:4700::1111]:8443,")
    check = FeedPolicy(rules, allow_private=False).check_url
    assert check("ws://feeds.example.com/x") == ("feeds.example.com", 80)
    assert check("wss://FEEDS.example.com.:9000") == ("feeds.example.com", 9000)
    assert check("wss://a.b.ticks.example.org/") == ("a.b.ticks.example.org", 443)
    assert check("wss://[2606:4700:0::1111]:8443") == ("2606:4700::1111", 8443)
    for url in (
        "ws://ticks.example.org:443",  # a wildcard is for names under the domain only
        "ws://a.ticks.example.org",  # port 80, not 443
        "ws://evil-ticks.example.org:443",
        "ws://feeds.example.com.evil.net",
        "ws://feeds.example.com@evil.net/",  # the host is evil.net, not the user name
        "ws://[2606:4700::1111]",
        "ws://8.8.8.8",
    ):
        with pytest.raises(PolicyError, match="FEED_ALLOWED_HOSTS"):
            check(url)


def test_an_empty_list_allows_nothing() -> None:
    with pytest.raises(PolicyError, match="FEED_ALLOWED_HOSTS"):
        FeedPolicy(parse_patterns(""), allow_private=True).check_url("ws://127.0.0.1:1/")


@pytest.mark.parametrize(
    "text", ["*", "*:443", "*.com", "a.*.com", "*example.com", "ws://x.com", "x.com/p", "h:port"]
)
def test_bad_patterns_are_refused_at_start(text: str) -> None:
    with pytest.raises(ValueError, match="FEED_ALLOWED_HOSTS"):
        parse_patterns(text)
    with pytest.raises(ValidationError, match="FEED_ALLOWED_HOSTS"):
        Settings(environment="test", feed_allowed_hosts=text)


def test_only_websocket_schemes() -> None:
    with pytest.raises(PolicyError, match="ws://"):
        FeedPolicy(parse_patterns("x.com"), allow_private=False).check_url("http://x.com/")


@pytest.mark.parametrize(
    "url",
    [
        "ws://127.0.0.1:8001",
        "ws://[::1]:8001",
        "ws://0.0.0.0:8001",
        "ws://database-service:8003",  # a service name: one label
        "ws://localhost:8001",
        "ws://db.localhost",
        "ws://metadata.google.internal",
        "ws://2130706433",  # 127.0.0.1 as one number, which resolvers accept
    ],
)
def test_internal_hosts_need_the_opt_in(url: str) -> None:
    allowed = "127.0.0.1,[::1],0.0.0.0,database-service,localhost,db.localhost,*.google.internal"
    allowed += ",2130706433"
    with pytest.raises(PolicyError, match="FEED_ALLOW_PRIVATE"):
        FeedPolicy(parse_patterns(allowed), allow_private=False).check_url(url)
    FeedPolicy(parse_patterns(allowed), allow_private=True).check_url(url)


async def test_a_name_that_resolves_internally_is_internal() -> None:
    mixed = policy("*.example.com", a_example_com=["93.184.216.34", "10.0.0.7"])
    with pytest.raises(PolicyError, match="FEED_ALLOW_PRIVATE") as refused:
        await mixed.target("wss://a.example.com/feed")
    assert "10.0.0.7" not in str(refused.value) and "10.0.0.7" in refused.value.detail
    public = policy("*.example.com", a_example_com=["93.184.216.34", "2606:4700::1111"])
    target = await public.target("wss://a.example.com/feed")
    assert (target.host, target.address, target.port) == ("a.example.com", "93.184.216.34", 443)
    opted_in = policy("*.example.com", allow_private=True, a_example_com=["10.0.0.7"])
    assert (await opted_in.target("ws://a.example.com:81")).address == "10.0.0.7"


async def test_literal_addresses_are_not_resolved() -> None:
    target = await policy("93.184.216.34").target("ws://93.184.216.34:9000")
    assert (target.address, target.port) == ("93.184.216.34", 9000)


async def test_a_name_that_does_not_resolve() -> None:
    with pytest.raises(ResolveError):
        await policy("*.example.com").target("ws://nowhere.example.com")
    with pytest.raises(ResolveError):
        await policy("*.example.com", a_example_com=[]).target("ws://a.example.com")
