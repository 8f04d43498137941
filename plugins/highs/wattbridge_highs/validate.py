"""Checks for input that passes API validation but that the solver cannot work with.

Each failure is a :class:`~wattbridge.drivers.scans.SolverFailed` whose message
names the field to change, in the API's terms.
"""

from __future__ import annotations

import numpy as np

from wattbridge.drivers.scans import SolverFailed
from wattbridge_highs.problem import SizingProblem


def check_problem(problem: SizingProblem) -> None:
    """Raise :class:`SolverFailed` if ``problem`` cannot be solved as given."""
    load = problem.load_kwh
    if problem.hours < 24:
        raise SolverFailed("the load series must cover at least one day of hourly values")
    if not np.all(np.isfinite(load)) or np.any(load < 0):
        raise SolverFailed("the load profile has negative or missing values; use another profile")
    if load.sum() <= 0:
        raise SolverFailed("yearlyKwh must be greater than 0 to size a system")
    for index, array in enumerate(problem.pv):
        series = array.yield_per_kwp
        if series.shape != load.shape:
            raise SolverFailed(f"PV entry {index}: its yield series does not match the load series")
        if not np.all(np.isfinite(series)) or np.any(series < 0):
            raise SolverFailed(f"PV entry {index}: the yield series has negative or missing values")
        if array.price_per_kwp < 0 or not np.isfinite(array.price_per_kwp):
            raise SolverFailed(f"newPv[{index}].pricePerPanel must be 0 or more")
    if not 0 <= problem.export_price <= problem.import_price:
        raise SolverFailed(
            "tariff.exportPrice must be between 0 and tariff.importPrice; "
            "a feed-in price above the import price has no bounded optimum"
        )
    battery = problem.battery
    if battery is None:
        return
    if not 0 <= battery.min_kwh <= battery.max_kwh:
        raise SolverFailed("electricBattery.minKwh must be between 0 and maxKwh")
    if not 0 < battery.roundtrip_efficiency <= 1:
        raise SolverFailed("electricBattery.roundtripEfficiency must be above 0 and at most 100 %")
    if not 0 <= battery.minimum_charge_level < 1:
        raise SolverFailed("electricBattery.minimumChargeLevel must be below 100 %")
    if battery.power_kw is not None and battery.power_kw < 0:
        raise SolverFailed("electricBattery.powerKw must be 0 or more")
    if battery.price_per_kwh < 0:
        raise SolverFailed("electricBattery.pricePerKwh must be 0 or more")
