"""The four named household load profiles as hourly kWh series scaled to ``yearlyKwh``.

``standard`` is BDEW's household standard load profile H25 (2025 revision),
shipped as hourly sums (12 months x 3 day types x 24 hours) with BDEW's
dynamisation polynomial applied per day. The other three are derived from it
by documented hour-of-day factors on workdays (and weekends for the family),
then scaled back to the same yearly total (docs/data.md).
"""

from __future__ import annotations

import csv
from functools import cache
from importlib import resources

import numpy as np

from wattbridge_highs.problem import FloatArray

DAY_TYPES = ("workday", "saturday", "sunday")
# 1 January of the reference year (2025) is a Wednesday (0 = Monday).
_FIRST_WEEKDAY = 2
_HOLIDAYS = (1, 359, 360)  # days of year treated as Sundays: New Year, Christmas
_DAYS_IN_MONTH = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)

# name → (description, {(day type group, first hour, last hour): factor}).
PROFILES: dict[str, tuple[str, dict[tuple[str, int, int], float]]] = {
    "standard": ("Average household (BDEW H25 standard load profile)", {}),
    "coupleBothAtWork": (
        "Two adults, both out at work on weekdays",
        {("workday", 6, 7): 1.15, ("workday", 8, 16): 0.55, ("workday", 17, 22): 1.20},
    ),
    "couple1home1work": (
        "Two adults, one working from home",
        {("workday", 9, 16): 0.90, ("workday", 17, 21): 1.10},
    ),
    "3kidsbothwork": (
        "Family with three children, both parents out at work on weekdays",
        {
            ("workday", 6, 7): 1.35,
            ("workday", 8, 14): 0.60,
            ("workday", 15, 16): 1.15,
            ("workday", 17, 21): 1.25,
            ("weekend", 8, 20): 1.15,
        },
    ),
}


@cache
def _h25_table() -> dict[tuple[int, str], FloatArray]:
    """(month, day type) → 24 hourly kWh for 1 GWh per year, as published."""
    text = resources.files("wattbridge_highs").joinpath("data/bdew_h25_hourly.csv").read_text()
    table: dict[tuple[int, str], FloatArray] = {}
    for row in csv.DictReader(text.splitlines()):
        values = np.array([float(row[f"h{h:02d}"]) for h in range(24)])
        table[(int(row["month"]), row["daytype"])] = values
    return table


def day_types() -> list[str]:
    """Day type of each day of the reference year."""
    types = []
    for day in range(365):
        weekday = (_FIRST_WEEKDAY + day) % 7
        if day + 1 in _HOLIDAYS or weekday == 6:
            types.append("sunday")
        elif weekday == 5:
            types.append("saturday")
        else:
            types.append("workday")
    return types


def dynamisation(day_of_year: FloatArray) -> FloatArray:
    """BDEW's dynamisation factor for household profiles (day 1 = 1 January)."""
    t = day_of_year
    return -3.92e-10 * t**4 + 3.2e-7 * t**3 - 7.02e-5 * t**2 + 2.1e-3 * t + 1.24


def load_profile(name: str, yearly_kwh: float) -> FloatArray:
    """Hourly consumption in kWh (8760 values) summing to ``yearly_kwh``.

    :raises KeyError: unknown profile name (the API validates names first).
    """
    _, factors = PROFILES[name]
    table = _h25_table()
    month_of_day = np.repeat(np.arange(1, 13), _DAYS_IN_MONTH)
    factor_of_day = dynamisation(np.arange(1, 366, dtype=np.float64))
    days = []
    for day, (kind, month) in enumerate(zip(day_types(), month_of_day, strict=True)):
        values = table[(int(month), kind)].copy()
        group = "workday" if kind == "workday" else "weekend"
        for (applies, first, last), factor in factors.items():
            if applies == group:
                values[first : last + 1] *= factor
        days.append(values * factor_of_day[day])
    series = np.concatenate(days)
    return np.asarray(series * (yearly_kwh / series.sum()), dtype=np.float64)


def profile_descriptions() -> dict[str, str]:
    """Names and one-line descriptions, for ``GET /v1/load-profiles``."""
    return {name: description for name, (description, _) in PROFILES.items()}
