"""The EV charger's day (hours UTC, one cycle runs 06:00 → 06:00).

It mirrors the car parked at home: connected and idle in the morning on most
days, free (``available``) during the working day, sometimes connected early in
the evening, and charging from 21:00 for a session of 2-6 hours (hashed per
day) at the installation's current, tapering off over the last 15 minutes
like a real charge does.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from wattbridge_sandbox.profiles import ChargerProfile
from wattbridge_sandbox.seeding import draws, uniform
from wattbridge_sandbox.simulation.timebase import cycle_of

MORNING_END = 3.0  # 09:00
DAY_END = 11.0  # 17:00
EVENING_END = 15.0  # 21:00
TAPER_HOURS = 0.25
VOLTS = 230.0


@dataclass(frozen=True, slots=True)
class ChargerDay:
    """The plan of one cycle, in hours since its 06:00 start."""

    morning_connected: bool
    depart: float
    arrive: float
    session_end: float


@lru_cache(maxsize=131_072)
def charger_day(profile: ChargerProfile, cycle: int) -> ChargerDay:
    """The plan of ``cycle`` for this charger."""
    u = draws("charger", profile.seed, cycle)
    connected = u[1] < 0.85
    late = connected and u[2] < 0.12
    early = u[5] < 0.45
    return ChargerDay(
        morning_connected=connected,
        depart=MORNING_END + uniform(0.5, 2.5, u[3]) if late else MORNING_END,
        arrive=DAY_END + uniform(1.0, 3.5, u[6]) if early else EVENING_END,
        session_end=EVENING_END + uniform(2.0, 6.0, u[4]),
    )


def power_kw(profile: ChargerProfile, current_a: float) -> float:
    """AC power of ``current_a`` on the charger's phases."""
    return profile.phases * VOLTS * current_a / 1000.0


def max_power_kw(profile: ChargerProfile) -> float:
    """The charger's maximum power."""
    return power_kw(profile, profile.max_current_a)


@dataclass(frozen=True, slots=True)
class ChargerPoint:
    """The charger at one instant."""

    connected: bool
    power_kw: float


def charger_point(profile: ChargerProfile, t: float) -> ChargerPoint:
    """The charger's baseline at ``t`` (epoch hours)."""
    cycle, x = cycle_of(t)
    d = charger_day(profile, cycle)
    if x < MORNING_END:
        return ChargerPoint(d.morning_connected, 0.0)
    if x < DAY_END:
        return ChargerPoint(x < d.depart, 0.0)
    if x < EVENING_END:
        return ChargerPoint(x >= d.arrive, 0.0)
    if x < d.session_end:
        taper = min(1.0, (d.session_end - x) / TAPER_HOURS)
        return ChargerPoint(True, power_kw(profile, profile.session_current_a) * taper)
    return ChargerPoint(True, 0.0)
