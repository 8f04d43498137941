"""Which IP addresses a webhook may be delivered to: globally routable ones only.

The tables name each special-purpose range (IANA IPv4/IPv6 special-purpose
registries) so a refusal can say *why*, and the check does not depend on
which Python version's ``ipaddress.is_global`` is installed. Anything not in
the tables still has to pass ``is_global``. IPv6 forms that carry an IPv4
address inside (IPv4-mapped, IPv4-translated, NAT64, 6to4, Teredo) are judged
by the address they carry, because that is where the packets end up.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

IPAddress = IPv4Address | IPv6Address

_LOOPBACK = "a loopback address"
_PRIVATE = "a private address"
_LINK_LOCAL = "a link-local address"
_CGNAT = "a carrier-grade NAT (shared, 100.64.0.0/10) address"
_MULTICAST = "a multicast address"
_RESERVED = "a reserved address"
_UNSPECIFIED = "an unspecified address (it reaches this machine)"
_DOCUMENTATION = "a documentation address"
_BENCHMARK = "a benchmarking address"
_BROADCAST = "a broadcast address"

_IPV4_RANGES: tuple[tuple[IPv4Network, str], ...] = tuple(
    (IPv4Network(net), label)
    for net, label in (
        ("0.0.0.0/8", _UNSPECIFIED),
        ("10.0.0.0/8", _PRIVATE),
        ("100.64.0.0/10", _CGNAT),
        ("127.0.0.0/8", _LOOPBACK),
        ("169.254.0.0/16", _LINK_LOCAL),
        ("172.16.0.0/12", _PRIVATE),
        ("192.0.0.0/24", _RESERVED),
        ("192.0.2.0/24", _DOCUMENTATION),
        ("192.88.99.0/24", _RESERVED),
        ("192.168.0.0/16", _PRIVATE),
        ("198.18.0.0/15", _BENCHMARK),
        ("198.51.100.0/24", _DOCUMENTATION),
        ("203.0.113.0/24", _DOCUMENTATION),
        ("224.0.0.0/4", _MULTICAST),
        ("255.255.255.255/32", _BROADCAST),
        ("240.0.0.0/4", _RESERVED),
    )
)

_IPV6_RANGES: tuple[tuple[IPv6Network, str], ...] = tuple(
    (IPv6Network(net), label)
    for net, label in (
        ("::/128", _UNSPECIFIED),
        ("::1/128", _LOOPBACK),
        ("::/96", _RESERVED),  # deprecated IPv4-compatible addresses
        ("64:ff9b:1::/48", _PRIVATE),  # local-use NAT64
        ("100::/64", _RESERVED),  # discard-only
        ("2001:db8::/32", _DOCUMENTATION),
        ("3fff::/20", _DOCUMENTATION),
        ("5f00::/16", _RESERVED),  # SRv6 segment identifiers
        ("fc00::/7", "a private (unique local) address"),
        ("fe80::/10", _LINK_LOCAL),
        ("fec0::/10", "a private (site-local) address"),
        ("ff00::/8", _MULTICAST),
        ("::/8", _RESERVED),
    )
)

_NAT64 = IPv6Network("64:ff9b::/96")
_TRANSLATED = IPv6Network("::ffff:0:0:0/96")


def unsafe_reason(ip: IPAddress) -> str | None:
    """Return why ``ip`` must not receive webhooks (``"a loopback address"``), or None."""
    if isinstance(ip, IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            inner = unsafe_reason(embedded)
            if inner is not None:
                return f"{inner} ({embedded}) inside an IPv6 address"
            if ip.ipv4_mapped is not None or ip in _TRANSLATED or ip in _NAT64:
                # These forms are the IPv4 address on the wire; it is global.
                return None
        for network6, label in _IPV6_RANGES:
            if ip in network6:
                return label
    else:
        for network4, label in _IPV4_RANGES:
            if ip in network4:
                return label
    if not ip.is_global or ip.is_multicast:
        return "a special-purpose (non-global) address"
    return None


def _embedded_ipv4(ip: IPv6Address) -> IPv4Address | None:
    """The IPv4 address an IPv6 address routes to, for the forms that carry one."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _TRANSLATED or ip in _NAT64:
        return IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        # (server, client): the client is where the tunnel delivers.
        return ip.teredo[1]
    return None
