"""Time as the simulation counts it: float hours since a fixed UTC epoch.

Daily patterns run in *cycles* that start at 06:00 UTC, so the overnight
window (21:00-06:00) belongs to one cycle instead of straddling two calendar
days; solar production is counted per calendar day (it is 0 at midnight).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

EPOCH = datetime(2015, 1, 1, tzinfo=UTC)
CYCLE_START_HOUR = 6.0


def hours_since_epoch(instant: datetime) -> float:
    """``instant`` (timezone-aware) as hours since :data:`EPOCH`."""
    if instant.tzinfo is None:
        raise ValueError("the simulation needs timezone-aware instants (UTC)")
    return (instant - EPOCH).total_seconds() / 3600.0


def cycle_of(t: float) -> tuple[int, float]:
    """The cycle index of ``t`` and the hours since that cycle's 06:00 start."""
    shifted = t - CYCLE_START_HOUR
    cycle = math.floor(shifted / 24.0)
    return cycle, shifted - 24.0 * cycle


def cycle_start(cycle: int) -> float:
    """The instant (hours since epoch) at which ``cycle`` starts."""
    return 24.0 * cycle + CYCLE_START_HOUR


def day_of(t: float) -> tuple[int, float]:
    """The UTC calendar day index of ``t`` (days since epoch) and its hour of day."""
    day = math.floor(t / 24.0)
    return day, t - 24.0 * day


def lerp(a: float, b: float, x: float) -> float:
    """Linear interpolation from ``a`` (x=0) to ``b`` (x=1)."""
    return a + (b - a) * x
