"""Refuse webhook URLs that would make the server call into a private network (SSRF).

A webhook URL is chosen by an API client, and the server then makes requests to
it from inside the operator's network. Without a check, ``http://127.1:6379/``
or ``http://169.254.169.254/`` turns wattbridge into a proxy to internal
services and cloud metadata. So a URL is accepted only if *every* address its
host resolves to is globally routable, unless the operator allows private
targets for that environment (local development).

Two properties make the check hold:

- The host is parsed by ``httpx.URL`` (the parser the transport itself uses) and
  numbers are turned into addresses by the operating system's own
  ``getaddrinfo``, so odd spellings (``127.1``, ``2130706433``, ``0x7f000001``,
  ``0177.0.0.1``, ``[::ffff:127.0.0.1]``) mean here exactly what they would mean
  when connecting.
- :func:`check_url` returns the approved address and the transport connects to
  that address only, so a DNS answer that changes after the check (DNS
  rebinding) cannot redirect the request.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import re
import socket
from collections.abc import Callable, Sequence

import attrs
import httpx

from wattbridge.webhooks.addresses import IPAddress, unsafe_reason

MAX_URL_LENGTH = 2048
_SCHEMES = ("http", "https")
_DEFAULT_PORTS = {"http": 80, "https": 443}

Resolver = Callable[[str, int], Sequence[str]]
"""Turns a host name and port into the addresses a connection could go to."""


class UnsafeTarget(ValueError):
    """A webhook URL is refused.

    ``reason`` is a predicate about the URL ("resolves to 127.0.0.1, a loopback
    address; …"); the message is ``url <url> <reason>``.
    """

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"url {_shorten(url)} {reason}")
        self.url = url
        self.reason = reason


class UnresolvableTarget(UnsafeTarget):
    """The URL's host name did not resolve; often transient, so worth retrying later."""


@attrs.frozen
class CheckedTarget:
    """A URL that passed the check, with the one address the transport may connect to."""

    url: str
    host: str
    port: int
    address: str


def system_resolver(host: str, port: int) -> list[str]:
    """Resolve ``host`` as a TCP connection would, returning every address in OS order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return [str(info[4][0]) for info in infos]


def check_url(url: str, allow_private: bool, resolver: Resolver = system_resolver) -> CheckedTarget:
    """Validate a webhook URL and pick the address to connect to.

    :param url: the endpoint URL as the client gave it.
    :param allow_private: the operator's ``private_webhook_targets`` setting for the
        environment; when true, non-global addresses are accepted (URL rules still apply).
    :param resolver: host name → addresses; tests inject a fake one.
    :raises UnsafeTarget: if the URL is malformed or reaches a non-global address.
    :raises UnresolvableTarget: if the host name does not resolve.
    """
    host, port, numeric = _target(url, allow_private)
    addresses = _resolve(url, host, port, resolver) if numeric is None else list(numeric)
    return _judge(url, host, port, addresses, allow_private)


async def check_url_async(
    url: str, allow_private: bool, resolver: Resolver = system_resolver
) -> CheckedTarget:
    """:func:`check_url` for async callers: a DNS lookup runs in a worker thread.

    A URL whose host is an address is checked inline: there is nothing to wait
    for, and a thread hop per delivery would cost more than the check.
    """
    host, port, numeric = _target(url, allow_private)
    if numeric is None:
        addresses = await asyncio.to_thread(_resolve, url, host, port, resolver)
    else:
        addresses = list(numeric)
    return _judge(url, host, port, addresses, allow_private)


@functools.lru_cache(maxsize=1024)
def _target(url: str, allow_private: bool) -> tuple[str, int, tuple[str, ...] | None]:
    """Host, port and, for a numeric host, its address: everything known without I/O.

    A pure function of its arguments (no DNS: a numeric host is parsed by the OS
    without a lookup), so it is cached: the dispatcher checks the same few URLs
    at every attempt. Host names are still resolved at every attempt. A refused
    URL raises and is not cached.
    """
    parsed = _parse(url)
    host = parsed.raw_host.decode("ascii")
    port = parsed.port or _DEFAULT_PORTS[parsed.scheme]
    bare_name = host.rstrip(".").lower()
    if not allow_private and (bare_name == "localhost" or bare_name.endswith(".localhost")):
        # RFC 6761: these names always mean this machine, whatever DNS says.
        raise UnsafeTarget(
            url,
            f"points at {host}, a name for this machine (loopback); "
            "webhook endpoints must be publicly reachable",
        )
    numeric = _numeric_address(host, port)
    return host, port, None if numeric is None else tuple(numeric)


def _resolve(url: str, host: str, port: int, resolver: Resolver) -> list[str]:
    try:
        addresses = list(resolver(host, port))
    except (OSError, UnicodeError) as exc:
        raise UnresolvableTarget(
            url, f"has a host name, {host}, that does not resolve ({_describe(exc)})"
        ) from None
    if not addresses:
        raise UnresolvableTarget(url, f"has a host name, {host}, that resolves to no address")
    return addresses


def _judge(
    url: str, host: str, port: int, addresses: list[str], allow_private: bool
) -> CheckedTarget:
    """Accept the addresses (all of them must be global unless private ones are allowed)."""
    parsed_addresses = [_to_ip(url, a) for a in addresses]
    if not allow_private:
        for ip in parsed_addresses:
            reason = unsafe_reason(ip)
            if reason is not None:
                raise UnsafeTarget(
                    url,
                    f"resolves to {ip}, {reason}; webhook endpoints must be publicly reachable",
                )
    return CheckedTarget(url=url, host=host, port=port, address=str(parsed_addresses[0]))


def _parse(url: str) -> httpx.URL:
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeTarget(url, f"is longer than {MAX_URL_LENGTH} characters")
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise UnsafeTarget(url, f"is not a valid URL ({exc})") from None
    if parsed.scheme not in _SCHEMES:
        raise UnsafeTarget(url, "must start with https:// or http://")
    if parsed.userinfo:
        # Credentials in the URL would be stored and shown with the endpoint; and
        # "user@host" spellings are a favourite trick to confuse URL parsers.
        raise UnsafeTarget(
            url,
            "must not contain credentials (user:password@); deliveries are "
            "authenticated by their signature instead",
        )
    if not parsed.raw_host:
        raise UnsafeTarget(url, "has no host name")
    if parsed.port is not None and not 0 < parsed.port < 65536:
        raise UnsafeTarget(url, f"names port {parsed.port}, which cannot be connected to")
    return parsed


def _numeric_address(host: str, port: int) -> list[str] | None:
    """Return the address of a numeric host (in any spelling the OS accepts), else None.

    ``AI_NUMERICHOST`` asks the OS's own parser (inet_aton rules for IPv4: octal,
    hex, shortened and single-integer forms), without ever touching DNS.
    """
    literal = host.replace("%25", "%")  # a zone id arrives percent-encoded in URLs
    try:
        infos = socket.getaddrinfo(
            literal, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST
        )
    except (OSError, UnicodeError):
        return None
    return [str(info[4][0]) for info in infos]


def _to_ip(url: str, address: str) -> IPAddress:
    try:
        return ipaddress.ip_address(address)
    except ValueError:
        # A resolver that answers something unparseable is not to be trusted.
        raise UnsafeTarget(url, f"resolves to {address!r}, which is not an IP address") from None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, socket.gaierror) and len(exc.args) > 1:
        return str(exc.args[1])
    return str(exc) or type(exc).__name__


def _shorten(url: str) -> str:
    url = _CREDENTIALS.sub(r"\1***@", url)  # never echo a password back, nor log it
    return url if len(url) <= 120 else url[:117] + "..."


_CREDENTIALS = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/?#]*@")
