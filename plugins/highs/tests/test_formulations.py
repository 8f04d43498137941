"""The reduced LP has the same optimum as the plain one, and both match brute force."""

from __future__ import annotations

import time

import numpy as np
import pytest

from wattbridge_highs.formulation import cost_objective
from wattbridge_highs.model import LpModel
from wattbridge_highs.plain import build_plain
from wattbridge_highs.problem import (
    BatteryOptions,
    PvArray,
    SizingProblem,
    capital_recovery_factor,
)
from wattbridge_highs.reduced import build_reduced

BATTERIES = {
    "sized, C-rate": BatteryOptions(0, 15),
    "sized, powerKw": BatteryOptions(5, 15, power_kw=2.0),
    "fixed": BatteryOptions(8, 8),
    "none": None,
}


def _optimum(problem: SizingProblem, build) -> tuple[float, np.ndarray]:
    form = build(problem)
    model = LpModel(form, time.monotonic() + 30)
    model.set_objective(*cost_objective(problem, form))
    x, objective = model.solve()
    return objective, x


def _week_problem(week, battery, export: bool, existing: float = 1.0) -> SizingProblem:
    load, pv = week
    arrays = (
        PvArray(pv, existing_kwp=existing),
        PvArray(pv * 0.8, max_panels=14, kwp_per_panel=0.43),
    )
    return SizingProblem(load_kwh=load, pv=arrays, battery=battery, export_allowed=export)


@pytest.mark.parametrize("export", [True, False])
@pytest.mark.parametrize("battery", BATTERIES.values(), ids=BATTERIES.keys())
def test_reduced_equals_plain(week, battery, export) -> None:
    problem = _week_problem(week, battery, export)
    plain, _ = _optimum(problem, build_plain)
    reduced, _ = _optimum(problem, build_reduced)
    assert reduced == pytest.approx(plain, rel=1e-7, abs=1e-7)


def greedy_cost(problem: SizingProblem, kwp: float, capacity: float) -> float:
    """Independent dispatch: store every surplus, cover every deficit, cyclic week."""
    battery = problem.battery
    assert battery is not None
    eta = np.sqrt(battery.roundtrip_efficiency)
    usable = capacity * (1 - battery.minimum_charge_level)
    power = battery.c_rate * capacity
    net = problem.load_kwh - problem.existing_pv_kwh() - kwp * problem.pv[1].yield_per_kwp
    level = 0.0
    for _ in range(50):  # iterate to the cyclic fixed point
        start, imports, exports = level, 0.0, 0.0
        for value in net:
            if value < 0:
                charge = min(-value, power, (usable - level) / eta)
                level += eta * charge
                exports += -value - charge
            else:
                discharge = min(value, power, level * eta)
                level -= discharge / eta
                imports += value - discharge
        if abs(level - start) < 1e-9:
            break
    share = problem.period_share
    rate = problem.discount_rate
    invest = (
        capital_recovery_factor(rate, problem.pv_lifetime_years) * problem.pv[1].price_per_kwp * kwp
        + capital_recovery_factor(rate, problem.battery_lifetime_years)
        * battery.price_per_kwh
        * capacity
    ) * share
    export_price = problem.export_price if problem.export_allowed else 0.0
    return invest + problem.import_price * imports - export_price * exports


@pytest.mark.parametrize("export", [True, False])
def test_optimum_matches_brute_force_grid(week, export) -> None:
    problem = _week_problem(week, BatteryOptions(0, 15), export, existing=0.0)
    objective, x = _optimum(problem, build_plain)
    kwp, capacity = float(x[0]), float(x[1])
    # The simulator reproduces the LP's cost at the LP's sizes ...
    assert greedy_cost(problem, kwp, capacity) == pytest.approx(objective, rel=1e-6)
    # ... and no size on a grid does better, while the best grid point is close.
    grid = [
        greedy_cost(problem, k, e)
        for k in np.linspace(0, 14 * 0.43, 15)
        for e in np.linspace(0, 15, 16)
    ]
    assert min(grid) >= objective - 1e-7
    assert min(grid) <= objective * 1.02
