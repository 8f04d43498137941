"""Resource ids: a type prefix and 24 random base62 characters (``dev_…``, ``scan_…``)."""

from __future__ import annotations

import os
import random
from collections.abc import Callable

from wattbridge.keys import BASE62

PREFIXES = ("dev", "act", "scan", "evt", "we", "msg", "ls", "proj", "key", "req", "use")


_DIGIT_OF_BYTE = bytes(ord(BASE62[b % 62]) for b in range(256))
_BIASED = bytes(range(248, 256))  # 248 = 4 * 62: bytes below it map evenly onto 62 digits


def new_id(prefix: str) -> str:
    """A fresh id with the given type prefix; 24 uniform base62 digits (143 bits)."""
    if prefix not in PREFIXES:
        raise ValueError(f"unknown id prefix {prefix!r}")
    return _draw(prefix, os.urandom)


def new_request_id() -> str:
    """A fresh ``req_…`` id, in the same form as :func:`new_id`'s.

    A request id only has to be unique, not unguessable (it names a request in
    logs and support questions; it grants nothing). So it comes from the
    process's pseudo-random generator, which :mod:`random` reseeds in a forked
    child, rather than from the operating system: one system call less on
    every request.
    """
    return _draw("req", random.randbytes)


def _draw(prefix: str, random_bytes: Callable[[int], bytes]) -> str:
    # Random bytes mapped to digits in C (bytes.translate), dropping the few
    # bytes that would favour some digits: a fraction of the cost of drawing
    # digits one by one, and exactly uniform. 32 bytes leave 24 digits except
    # about once in 10**11 draws; then draw again.
    while True:
        digits = random_bytes(32).translate(_DIGIT_OF_BYTE, _BIASED)
        if len(digits) >= 24:
            return f"{prefix}_{digits[:24].decode('ascii')}"
