"""Deterministic pseudo-random draws derived from strings.

Every "random" choice of the simulator (a device's capacity, whether a car is
plugged in on a given morning) is a hash of a seed string and the question
being asked. Nothing reads global random state or the wall clock, so the same
question always gets the same answer, in every process and on every machine.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence
from functools import lru_cache
from typing import TypeVar

T = TypeVar("T")

_SCALE = 2.0**32


@lru_cache(maxsize=262_144)
def draws(*parts: object) -> tuple[float, ...]:
    """Return eight independent floats in ``[0, 1)`` for the key ``parts``.

    Cached because the simulator asks the same per-device, per-day questions
    for every read of that device on that day.
    """
    key = "\x1f".join(str(part) for part in parts).encode()
    digest = hashlib.blake2b(key, digest_size=32).digest()
    return tuple(word / _SCALE for word in struct.unpack("<8I", digest))


def uniform(low: float, high: float, u: float) -> float:
    """Map a unit draw ``u`` onto ``[low, high)``."""
    return low + (high - low) * u


def pick(options: Sequence[T], u: float) -> T:
    """Choose one of ``options`` with a unit draw ``u``."""
    return options[min(int(u * len(options)), len(options) - 1)]


def hex_id(*parts: object, length: int = 12) -> str:
    """A stable lowercase hex identifier for ``parts`` (for external ids)."""
    key = "\x1f".join(str(part) for part in parts).encode()
    return hashlib.blake2b(key, digest_size=16).hexdigest()[:length]
