"""Resource ids: a type prefix and 24 random base62 characters (``dev_…``, ``scan_…``)."""

from __future__ import annotations

import secrets

from wattbridge.keys import BASE62

PREFIXES = ("dev", "act", "scan", "evt", "we", "msg", "ls", "proj", "key", "req", "use")


def new_id(prefix: str) -> str:
    """A fresh id with the given type prefix; 143 bits of randomness."""
    if prefix not in PREFIXES:
        raise ValueError(f"unknown id prefix {prefix!r}")
    return f"{prefix}_" + "".join(secrets.choice(BASE62) for _ in range(24))
