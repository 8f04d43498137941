"""The electric vehicle's day (hours UTC, one cycle runs 06:00 → 06:00).

- 06-09: likely plugged in (88 % of days), topping up at full AC power from
  about 82 % until ``chargeLimit`` (90 or 95 %), then fully charged;
- 09-17: likely unplugged: the level falls to about 71 % (on some days the car
  leaves late and stays plugged in, fully charged, until it does);
- 17-21: the level falls to about 50 %; on some days (45 %) the car is plugged
  in early, waiting for the overnight charge;
- 21-06: plugged in, charging slowly and evenly up to the next morning's level.

Which days the "likely" and "may" events happen, and the small day-to-day
variation of each key level, are hashed from the device seed and the cycle.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from wattbridge_sandbox.profiles import VehicleProfile
from wattbridge_sandbox.seeding import draws, uniform
from wattbridge_sandbox.simulation.baseline import Segment
from wattbridge_sandbox.simulation.timebase import cycle_of, lerp

MORNING_END = 3.0  # 09:00
DAY_END = 11.0  # 17:00
EVENING_END = 15.0  # 21:00
CYCLE = 24.0


@dataclass(frozen=True, slots=True)
class VehicleDay:
    """The key points of one cycle, in hours since its 06:00 start."""

    start_level: float
    morning_plugged: bool
    full_at: float  # when the morning top-up reaches the limit (>= 3: not today)
    top_level: float  # level at 09:00
    depart: float
    level_17: float
    arrive: float
    level_21: float
    next_start_level: float


@lru_cache(maxsize=131_072)
def _start_level(profile: VehicleProfile, cycle: int) -> float:
    u = draws("vehicle", profile.seed, cycle)
    return min(84.5, max(80.5, 82.0 + profile.level_offset + uniform(-1.0, 1.0, u[0])))


@lru_cache(maxsize=131_072)
def vehicle_day(profile: VehicleProfile, cycle: int) -> VehicleDay:
    """The plan of ``cycle`` for this vehicle."""
    u = draws("vehicle", profile.seed, cycle)
    start = _start_level(profile, cycle)
    plugged = u[1] < 0.88
    rate = _ac_rate(profile)
    limit = profile.charge_limit
    if plugged:
        full_at = (limit - start) / rate
        top = min(limit, start + rate * MORNING_END)
    else:
        full_at, top = MORNING_END, start
    late = plugged and u[2] < 0.12
    depart = MORNING_END + uniform(0.5, 2.5, u[3]) if late else MORNING_END
    early = u[5] < 0.45
    arrive = DAY_END + uniform(1.0, 3.5, u[6]) if early else EVENING_END
    return VehicleDay(
        start_level=start,
        morning_plugged=plugged,
        full_at=full_at,
        top_level=top,
        depart=depart,
        level_17=70.5 + profile.level_offset / 2 + uniform(-0.75, 0.75, u[4]),
        arrive=arrive,
        level_21=50.0 + profile.level_offset + uniform(-1.0, 1.0, u[7]),
        next_start_level=_start_level(profile, cycle + 1),
    )


def _ac_rate(profile: VehicleProfile) -> float:
    """Morning top-up speed in percent per hour."""
    return profile.ac_power_kw / profile.capacity_kwh * 100.0


@dataclass(frozen=True, slots=True)
class VehiclePoint:
    """The baseline at one instant."""

    level: float
    slope: float  # percent per hour
    plugged: bool
    charging: bool


def vehicle_point(profile: VehicleProfile, t: float) -> VehiclePoint:
    """The vehicle's baseline at ``t`` (hours since epoch)."""
    cycle, x = cycle_of(t)
    d = vehicle_day(profile, cycle)
    if x < MORNING_END:
        if not d.morning_plugged:
            return VehiclePoint(d.start_level, 0.0, False, False)
        if x < d.full_at:
            rate = _ac_rate(profile)
            return VehiclePoint(d.start_level + rate * x, rate, True, True)
        return VehiclePoint(profile.charge_limit, 0.0, True, False)
    if x < DAY_END:
        if x < d.depart:
            return VehiclePoint(d.top_level, 0.0, True, False)
        slope = (d.level_17 - d.top_level) / (DAY_END - d.depart)
        return VehiclePoint(d.top_level + slope * (x - d.depart), slope, False, False)
    if x < EVENING_END:
        if x < d.arrive:
            slope = (d.level_21 - d.level_17) / (d.arrive - DAY_END)
            return VehiclePoint(d.level_17 + slope * (x - DAY_END), slope, False, False)
        return VehiclePoint(d.level_21, 0.0, True, False)
    slope = (d.next_start_level - d.level_21) / (CYCLE - EVENING_END)
    level = lerp(d.level_21, d.next_start_level, (x - EVENING_END) / (CYCLE - EVENING_END))
    return VehiclePoint(level, slope, True, True)


class VehicleBaseline:
    """:class:`~wattbridge_sandbox.simulation.baseline.LevelBaseline` of one vehicle."""

    __slots__ = ("profile",)

    def __init__(self, profile: VehicleProfile) -> None:
        self.profile = profile

    def level(self, t: float) -> tuple[float, float]:
        """Level and slope at ``t``."""
        point = vehicle_point(self.profile, t)
        return point.level, point.slope

    def segments(self, cycle: int) -> Sequence[Segment]:
        """The cycle's pieces with the sign of the level's slope."""
        d = vehicle_day(self.profile, cycle)
        full = min(max(d.full_at, 0.0), MORNING_END) if d.morning_plugged else 0.0
        return (
            (0.0, full, 1),
            (full, MORNING_END, 0),
            (MORNING_END, d.depart, 0),
            (d.depart, d.arrive, -1),
            (d.arrive, EVENING_END, 0),
            (EVENING_END, CYCLE, 1),
        )
