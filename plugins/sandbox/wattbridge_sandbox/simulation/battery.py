"""The home battery's day (hours UTC, one cycle runs 06:00 → 06:00).

- 06-09: discharging for the morning load, about 70 % → 48 %;
- 09-15: charging from solar, about 48 % → 91 %, fastest around noon
  (a half-cosine, so the charge rate follows the sun);
- 15-21: discharging for the evening peak, about 91 % → 30 %;
- 21-06: idle for 0-3 hours (hashed per day), then charging slowly from the
  grid's cheap night tariff up to the next morning's level.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from wattbridge_sandbox.profiles import BatteryProfile
from wattbridge_sandbox.seeding import draws, uniform
from wattbridge_sandbox.simulation.baseline import Segment
from wattbridge_sandbox.simulation.timebase import cycle_of

MORNING_END = 3.0  # 09:00
SOLAR_END = 9.0  # 15:00
PEAK_END = 15.0  # 21:00
CYCLE = 24.0


@dataclass(frozen=True, slots=True)
class BatteryDay:
    """The key levels of one cycle."""

    level_06: float
    level_09: float
    level_15: float
    level_21: float
    idle_until: float
    next_level_06: float


@lru_cache(maxsize=131_072)
def _level_06(profile: BatteryProfile, cycle: int) -> float:
    u = draws("battery", profile.seed, cycle)
    return 70.0 + profile.level_offset / 2 + uniform(-1.0, 1.0, u[0])


@lru_cache(maxsize=131_072)
def battery_day(profile: BatteryProfile, cycle: int) -> BatteryDay:
    """The plan of ``cycle`` for this battery."""
    u = draws("battery", profile.seed, cycle)
    return BatteryDay(
        level_06=_level_06(profile, cycle),
        level_09=48.0 + profile.level_offset / 2 + uniform(-1.0, 1.0, u[1]),
        level_15=91.0 + profile.level_offset / 2 + uniform(-1.0, 1.0, u[2]),
        level_21=30.0 + profile.level_offset + uniform(-1.0, 1.0, u[3]),
        idle_until=PEAK_END + uniform(0.0, 3.0, u[4]),
        next_level_06=_level_06(profile, cycle + 1),
    )


def battery_level(profile: BatteryProfile, t: float) -> tuple[float, float]:
    """The baseline level (percent) at ``t`` and its slope (percent per hour)."""
    cycle, x = cycle_of(t)
    d = battery_day(profile, cycle)
    if x < MORNING_END:
        slope = (d.level_09 - d.level_06) / MORNING_END
        return d.level_06 + slope * x, slope
    if x < SOLAR_END:
        span = SOLAR_END - MORNING_END
        phase = math.pi * (x - MORNING_END) / span
        rise = d.level_15 - d.level_09
        return (
            d.level_09 + rise * (1.0 - math.cos(phase)) / 2.0,
            rise * math.pi / (2.0 * span) * math.sin(phase),
        )
    if x < PEAK_END:
        slope = (d.level_21 - d.level_15) / (PEAK_END - SOLAR_END)
        return d.level_15 + slope * (x - SOLAR_END), slope
    if x < d.idle_until:
        return d.level_21, 0.0
    slope = (d.next_level_06 - d.level_21) / (CYCLE - d.idle_until)
    return d.level_21 + slope * (x - d.idle_until), slope


class BatteryBaseline:
    """:class:`~wattbridge_sandbox.simulation.baseline.LevelBaseline` of one battery."""

    __slots__ = ("profile",)

    def __init__(self, profile: BatteryProfile) -> None:
        self.profile = profile

    def level(self, t: float) -> tuple[float, float]:
        """Level and slope at ``t``."""
        return battery_level(self.profile, t)

    def segments(self, cycle: int) -> Sequence[Segment]:
        """The cycle's pieces with the sign of the level's slope."""
        d = battery_day(self.profile, cycle)
        return (
            (0.0, MORNING_END, -1),
            (MORNING_END, SOLAR_END, 1),
            (SOLAR_END, PEAK_END, -1),
            (PEAK_END, d.idle_until, 0),
            (d.idle_until, CYCLE, 1),
        )
