"""Time, injected: nothing below the edges of the program calls ``datetime.now()``.

Tests travel in time with :class:`FrozenClock`; the sandbox's ``?at=`` read uses
the same seam. All instants are timezone-aware UTC.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """A source of the current UTC instant."""

    def now(self) -> datetime:
        """Return the current instant, timezone-aware, in UTC."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        """Return the wall-clock time in UTC."""
        return datetime.now(UTC)


class FrozenClock:
    """A clock that only moves when told to; thread-safe so workers can share it."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FrozenClock needs a timezone-aware datetime")
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """Return the frozen instant."""
        with self._lock:
            return self._now

    def advance(self, delta: timedelta | float) -> datetime:
        """Move forward by ``delta`` (a timedelta or seconds) and return the new instant."""
        step = delta if isinstance(delta, timedelta) else timedelta(seconds=delta)
        with self._lock:
            self._now += step
            return self._now

    def set(self, instant: datetime) -> None:
        """Jump to ``instant``."""
        with self._lock:
            self._now = instant.astimezone(UTC)


def isoformat(instant: datetime) -> str:
    """Render an instant as the API does: ISO 8601 UTC, milliseconds, ``Z``."""
    if instant.tzinfo is not UTC:
        instant = instant.astimezone(UTC)
    # ``isoformat`` truncates to milliseconds, as the API always has.
    return instant.isoformat(timespec="milliseconds")[:-6] + "Z"


def parse_instant(text: str) -> datetime:
    """Parse an ISO 8601 instant; a value without an offset is rejected (ambiguous).

    :raises ValueError: with a message that says what form is expected.
    """
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{text!r} is not an ISO 8601 time; use a form like 2026-06-01T07:30:00Z"
        ) from None
    if parsed.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone; add 'Z' for UTC, e.g. 2026-06-01T07:30:00Z")
    return parsed.astimezone(UTC)
