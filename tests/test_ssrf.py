"""The SSRF guard: every spelling of a non-global address is refused; public ones pass."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Sequence

import pytest

from wattbridge.webhooks.ssrf import (
    CheckedTarget,
    UnresolvableTarget,
    UnsafeTarget,
    check_url,
    check_url_async,
)

PUBLIC_V4 = "93.184.215.14"
PUBLIC_V6 = "2606:2800:21f:cb07:6820:80da:af6b:8b2c"


class FakeResolver:
    """A DNS that answers from a table and records what it was asked."""

    def __init__(self, answers: dict[str, Sequence[str]] | None = None) -> None:
        self.answers = answers or {}
        self.asked: list[str] = []

    def __call__(self, host: str, port: int) -> Sequence[str]:
        self.asked.append(host)
        if host not in self.answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return self.answers[host]


# Numeric spellings: the OS parses them, so DNS is never asked.
NUMERIC_SPELLINGS = [
    ("http://127.0.0.1/", "loopback"),
    ("http://127.1/", "loopback"),
    ("http://2130706433/", "loopback"),
    ("http://0x7f000001/", "loopback"),
    ("http://0x7f.1/", "loopback"),
    ("http://017700000001/", "loopback"),
    ("http://[::1]/", "loopback"),
    ("http://[::ffff:127.0.0.1]/", "loopback address (127.0.0.1) inside an IPv6"),
    ("http://[::ffff:7f00:1]/", "loopback address (127.0.0.1) inside an IPv6"),
    ("https://[2002:7f00:1::1]/", "loopback address (127.0.0.1) inside an IPv6"),  # 6to4
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://[64:ff9b::a9fe:a9fe]/", "link-local address (169.254.169.254) inside"),  # NAT64
    ("http://[fe80::1]/", "link-local"),
    ("http://[fe80::1%25eth0]/", "link-local"),
    ("http://100.64.0.1/", "carrier-grade NAT"),
    ("http://10.0.0.1/", "private"),
    ("http://172.16.5.4/", "private"),
    ("http://192.168.1.1:8080/", "private"),
    ("http://[::ffff:10.0.0.1]/", "private address (10.0.0.1) inside"),
    ("http://[fd00::1]/", "unique local"),
    ("http://[fc00::1]/", "unique local"),
    ("http://0.0.0.0/", "unspecified"),
    ("http://0/", "unspecified"),
    ("http://[::]/", "unspecified"),
    ("http://224.0.0.1/", "multicast"),
    ("http://[ff02::1]/", "multicast"),
    ("http://240.0.0.1/", "reserved"),
    ("http://255.255.255.255/", "broadcast"),
    ("http://198.18.0.1/", "benchmarking"),
    ("http://192.0.2.1/", "documentation"),
    ("http://[2001:db8::1]/", "documentation"),
]


@pytest.mark.parametrize(("url", "reason"), NUMERIC_SPELLINGS)
def test_numeric_spellings_of_non_global_addresses_are_refused(url: str, reason: str) -> None:
    resolver = FakeResolver()
    with pytest.raises(UnsafeTarget) as info:
        check_url(url, allow_private=False, resolver=resolver)
    message = str(info.value)
    assert message.startswith(f"url {url} resolves to ")
    assert reason in message
    assert message.endswith("webhook endpoints must be publicly reachable")
    assert resolver.asked == []  # parsed like the OS does, not looked up
    assert not isinstance(info.value, UnresolvableTarget)


def test_the_loopback_message_names_the_address_and_the_reason() -> None:
    with pytest.raises(UnsafeTarget) as info:
        check_url("http://127.1/hook", allow_private=False, resolver=FakeResolver())
    assert str(info.value) == (
        "url http://127.1/hook resolves to 127.0.0.1, a loopback address; "
        "webhook endpoints must be publicly reachable"
    )
    assert info.value.url == "http://127.1/hook"
    assert info.value.reason.startswith("resolves to 127.0.0.1")


@pytest.mark.parametrize(
    "url",
    ["http://localhost/", "http://localhost./", "http://LOCALHOST:8000/", "http://a.localhost/"],
)
def test_localhost_names_are_refused_without_asking_dns(url: str) -> None:
    resolver = FakeResolver({"localhost": [PUBLIC_V4], "localhost.": [PUBLIC_V4]})
    with pytest.raises(UnsafeTarget, match="a name for this machine"):
        check_url(url, allow_private=False, resolver=resolver)
    assert resolver.asked == []


def test_octal_dotted_quad_is_refused() -> None:
    # 0177.0.0.1 is 127.0.0.1 to inet_aton; the URL parser refuses it outright.
    with pytest.raises(UnsafeTarget, match=r"0177\.0\.0\.1"):
        check_url("http://0177.0.0.1/", allow_private=False, resolver=FakeResolver())


def test_a_name_is_refused_if_any_of_its_addresses_is_private() -> None:
    resolver = FakeResolver({"hooks.example.test": [PUBLIC_V4, "10.1.2.3"]})
    with pytest.raises(UnsafeTarget, match=r"resolves to 10\.1\.2\.3, a private address"):
        check_url("https://hooks.example.test/in", allow_private=False, resolver=resolver)
    resolver = FakeResolver({"rebind.example.test": ["::ffff:169.254.169.254"]})
    with pytest.raises(UnsafeTarget, match="link-local"):
        check_url("https://rebind.example.test/", allow_private=False, resolver=resolver)


def test_public_names_pass_and_the_first_address_is_the_one_to_connect_to() -> None:
    resolver = FakeResolver({"hooks.example.test": [PUBLIC_V6, PUBLIC_V4]})
    target = check_url("https://Hooks.Example.TEST/in?x=1", allow_private=False, resolver=resolver)
    assert target == CheckedTarget(
        url="https://Hooks.Example.TEST/in?x=1",
        host="hooks.example.test",
        port=443,
        address=PUBLIC_V6,
    )
    assert resolver.asked == ["hooks.example.test"]


@pytest.mark.parametrize(
    ("url", "address", "port"),
    [
        (f"http://{PUBLIC_V4}:8080/", PUBLIC_V4, 8080),
        (f"https://[{PUBLIC_V6}]/", PUBLIC_V6, 443),
        ("http://1.1.1.1/", "1.1.1.1", 80),
        ("https://[2002:808:808::1]/", "2002:808:808::1", 443),  # 6to4 of a public address
        ("https://[::ffff:8.8.8.8]/", "::ffff:808:808", 443),
    ],
)
def test_public_literal_addresses_pass(url: str, address: str, port: int) -> None:
    target = check_url(url, allow_private=False, resolver=FakeResolver())
    assert (target.address, target.port) == (address, port)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://hooks.example.test/", "must start with https:// or http://"),
        ("file:///etc/passwd", "must start with https:// or http://"),
        ("gopher://127.0.0.1:6379/", "must start with https:// or http://"),
        ("https://user:pass@hooks.example.test/", "must not contain credentials"),
        ("https://user@hooks.example.test/", "must not contain credentials"),
        ("https://hooks.example.test@127.0.0.1/", "must not contain credentials"),
        ("http:///path-only", "has no host name"),
        ("https://hooks.example.test:0/", "port 0, which cannot be connected to"),
        ("https://hooks.example.test:99999/", "port 99999, which cannot be connected to"),
        ("https://hooks.example.test/" + "a" * 2048, "longer than 2048 characters"),
        ("https://hooks.example.test:8o/", "is not a valid URL"),
    ],
)
def test_malformed_urls_are_refused_even_when_private_targets_are_allowed(
    url: str, reason: str
) -> None:
    resolver = FakeResolver({"hooks.example.test": [PUBLIC_V4]})
    with pytest.raises(UnsafeTarget, match=reason):
        check_url(url, allow_private=True, resolver=resolver)


def test_a_url_of_exactly_2048_characters_is_accepted() -> None:
    url = "https://hooks.example.test/"
    url += "a" * (2048 - len(url))
    resolver = FakeResolver({"hooks.example.test": [PUBLIC_V4]})
    assert check_url(url, allow_private=False, resolver=resolver).address == PUBLIC_V4


def test_private_targets_pass_when_the_operator_allows_them() -> None:
    for url, _ in NUMERIC_SPELLINGS[:3]:
        assert check_url(url, allow_private=True, resolver=FakeResolver()).address == "127.0.0.1"
    resolver = FakeResolver({"hooks.internal.test": ["10.0.0.7"]})
    target = check_url("http://hooks.internal.test:9000/", allow_private=True, resolver=resolver)
    assert (target.address, target.port) == ("10.0.0.7", 9000)


def test_localhost_resolves_through_the_system_when_allowed() -> None:
    target = check_url("http://localhost:8000/hook", allow_private=True)
    assert target.host == "localhost"
    assert target.address in {"127.0.0.1", "::1"}


def test_names_that_do_not_resolve_are_reported_as_unresolvable() -> None:
    with pytest.raises(UnresolvableTarget, match="does not resolve"):
        check_url("https://nowhere.example.test/", allow_private=False, resolver=FakeResolver())
    empty = FakeResolver({"empty.example.test": []})
    with pytest.raises(UnresolvableTarget, match="no address"):
        check_url("https://empty.example.test/", allow_private=False, resolver=empty)


def test_a_resolver_answering_nonsense_is_not_trusted() -> None:
    resolver = FakeResolver({"odd.example.test": ["not-an-address"]})
    with pytest.raises(UnsafeTarget, match="not an IP address"):
        check_url("https://odd.example.test/", allow_private=True, resolver=resolver)


def test_async_check_gives_the_same_answers() -> None:
    resolver = FakeResolver({"hooks.example.test": [PUBLIC_V4]})
    target = asyncio.run(check_url_async("https://hooks.example.test/", False, resolver))
    assert target.address == PUBLIC_V4
    with pytest.raises(UnsafeTarget, match="loopback"):
        asyncio.run(check_url_async("http://2130706433/", False, resolver))
