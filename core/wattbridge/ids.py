"""Resource ids: a type prefix and 24 random base62 characters (``dev_…``, ``scan_…``)."""

from __future__ import annotations

import secrets

from wattbridge.keys import BASE62

PREFIXES = ("dev", "act", "scan", "evt", "we", "msg", "ls", "proj", "key", "req", "use")


def new_id(prefix: str) -> str:
    """A fresh id with the given type prefix; 143 bits of randomness."""
    if prefix not in PREFIXES:
        raise ValueError(f"unknown id prefix {prefix!r}")
    # One 192-bit draw cut into 24 base62 digits: ~10x cheaper than 24 calls to
    # secrets.choice (ids are made several times per request). 2**192 is not a
    # multiple of 62**24, which skews the distribution by less than 2**-49.
    number = int.from_bytes(secrets.token_bytes(24), "big")
    digits = []
    for _ in range(24):
        number, digit = divmod(number, 62)
        digits.append(BASE62[digit])
    return f"{prefix}_" + "".join(digits)
