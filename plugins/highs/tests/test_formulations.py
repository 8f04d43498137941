"""The reduced LP has the same optimum as the plain one, and both match brute force.

Brute force means: every whole-panel count and a fine grid of battery sizes,
each evaluated by an independent dispatch simulation (:func:`greedy_cost`,
which shares no code with the LP), on one-week instances.
"""

from __future__ import annotations

import dataclasses
import time
from functools import cache

import numpy as np
import pytest

from wattbridge_highs.formulation import cost_objective, import_objective
from wattbridge_highs.loads import load_profile
from wattbridge_highs.model import LpModel, SolveError
from wattbridge_highs.plain import build_plain
from wattbridge_highs.problem import (
    BatteryOptions,
    PvArray,
    SizingProblem,
    capital_recovery_factor,
)
from wattbridge_highs.pvyield import yield_per_kwp
from wattbridge_highs.reduced import build_reduced
from wattbridge_highs.sizing import _failure, solve_sizing

BATTERIES = {
    "sized, C-rate": BatteryOptions(0, 15),
    "sized, powerKw": BatteryOptions(5, 15, power_kw=2.0),
    "fixed": BatteryOptions(8, 8),
    "none": None,
}


def _optimum(problem: SizingProblem, build, goal: str = "cost") -> tuple[float, np.ndarray]:
    form = build(problem)
    model = LpModel(form, time.monotonic() + 30)
    if goal == "cost":
        model.set_objective(*cost_objective(problem, form))
    else:
        model.set_objective(*import_objective(form))
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
    """Cost of the independent dispatch below at these sizes."""
    return greedy(problem, kwp, capacity)[0]


def greedy(problem: SizingProblem, kwp: float, capacity: float) -> tuple[float, float]:
    """Independent dispatch: store every surplus, cover every deficit, cyclic week.

    With flat prices and feed-in below ``eta^2 x`` the import price this is the
    cheapest dispatch and the one with the least import. Answers (cost, import).
    """
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
    return invest + problem.import_price * imports - export_price * exports, imports


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


@pytest.mark.parametrize("export", [True, False])
def test_whole_panel_answer_matches_brute_force(week, export) -> None:
    # The production path (reduced LP, whole-panel re-evaluation, repaired dispatch)
    # against every panel count x 61 battery sizes, each simulated independently.
    problem = _week_problem(week, BatteryOptions(0, 15), export, existing=0.0)
    result = solve_sizing(problem)
    cost = result.annual_cost * problem.period_share
    panels, capacity = result.new_panels[0], result.battery_kwh or 0.0
    assert greedy_cost(problem, panels * 0.43, capacity) == pytest.approx(cost, rel=1e-6)
    grid = {
        (p, e): greedy_cost(problem, p * 0.43, e)
        for p in range(15)
        for e in np.linspace(0, 15, 61)
    }
    best = min(grid, key=grid.__getitem__)
    assert min(grid.values()) >= cost - 1e-7  # nothing on the grid beats the solver
    assert min(grid.values()) <= cost + 0.002 * abs(cost)  # and the grid finds it too
    assert best[0] == panels  # the same whole-panel count


@cache
def _year() -> dict[str, np.ndarray]:
    return {
        "load": load_profile("standard", 3500),
        "south": yield_per_kwp(52.09, 5.12, 35, 180),
        "east": yield_per_kwp(52.09, 5.12, 30, 90),
        "west": yield_per_kwp(52.09, 5.12, 30, 270),
    }


@pytest.mark.parametrize("export", [True, False])
def test_self_sufficiency_answer_matches_brute_force(week, export) -> None:
    # The exact rule (docs/solver.md): least cost among sizes whose import is at
    # most the least reachable import plus 1 % of the consumption.
    problem = _week_problem(week, BatteryOptions(0, 15), export, existing=0.0)
    problem = dataclasses.replace(problem, goal="self-sufficiency")
    result = solve_sizing(problem)
    cost = result.annual_cost * problem.period_share
    panels, capacity = result.new_panels[0], result.battery_kwh or 0.0
    least_import = greedy(problem, 14 * 0.43, 15.0)[1]  # all the PV, the largest battery
    cap = least_import + 0.01 * float(problem.load_kwh.sum())
    simulated_cost, simulated_import = greedy(problem, panels * 0.43, capacity)
    assert simulated_cost == pytest.approx(cost, rel=1e-6)
    assert simulated_import == pytest.approx(result.grid_import_kwh, abs=1e-6)
    assert simulated_import <= cap + 1e-6
    step = 0.25
    feasible = [
        c
        for p in range(15)
        for e in np.arange(0, 15 + step / 2, step)
        for c, imports in [greedy(problem, p * 0.43, e)]
        if imports <= cap
    ]
    assert min(feasible) >= cost - 1e-7
    # The grid point just above the solver's battery is feasible too (import only
    # falls with a larger battery) and costs at most one step of battery more.
    per_kwh = (
        capital_recovery_factor(problem.discount_rate, problem.battery_lifetime_years)
        * 600.0
        * problem.period_share
    )
    assert min(feasible) <= cost + per_kwh * step + 1e-9


def _random_week(seed: int) -> SizingProblem:
    """A one-week instance drawn from every input dimension the solver has."""
    rng = np.random.default_rng(seed)
    year = _year()
    start = 24 * int(rng.integers(0, 358))
    hours = slice(start, start + 24 * int(rng.integers(1, 8)))
    load = year["load"][hours] * rng.uniform(0.3, 3.0)
    arrays = []
    if rng.random() < 0.6:  # existing PV, often more than the load: sure-surplus hours
        arrays.append(PvArray(year["south"][hours], existing_kwp=float(rng.uniform(0, 8))))
    for side in ("south", "east", "west"):
        if rng.random() < 0.5:
            arrays.append(
                PvArray(
                    year[side][hours],
                    max_panels=int(rng.integers(1, 25)),
                    kwp_per_panel=0.43,
                    price_per_kwp=float(rng.uniform(300, 2000)),
                )
            )
    low = float(rng.uniform(0, 5))
    high = low + float(rng.uniform(0, 15))
    price = float(rng.uniform(50, 900))
    battery = [
        None,
        BatteryOptions(
            low,
            high,
            minimum_charge_level=float(rng.uniform(0, 0.3)),
            roundtrip_efficiency=float(rng.uniform(0.7, 1.0)),
            price_per_kwh=price,
        ),
        BatteryOptions(low, high, power_kw=float(rng.uniform(0.2, 4)), price_per_kwh=price),
        BatteryOptions(high, high, power_kw=None if rng.random() < 0.5 else 2.0),
    ][int(rng.integers(0, 4))]
    import_price = float(rng.uniform(0.1, 0.5))
    return SizingProblem(
        load_kwh=load,
        pv=tuple(arrays),
        battery=battery,
        export_allowed=bool(rng.random() < 0.5),
        import_price=import_price,
        export_price=float(rng.uniform(0, import_price)),
    )


@pytest.mark.parametrize("seed", range(40))
def test_reduced_equals_plain_on_random_instances(seed) -> None:
    problem = _random_week(seed)
    for goal in ("cost", "import"):
        plain, _ = _optimum(problem, build_plain, goal)
        reduced, _ = _optimum(problem, build_reduced, goal)
        assert reduced == pytest.approx(plain, rel=1e-7, abs=1e-6), goal


@pytest.mark.parametrize("build", [build_plain, build_reduced], ids=["plain", "reduced"])
def test_solver_stops_become_messages_that_say_what_to_change(week, build) -> None:
    # Input checks refuse both cases before HiGHS sees them; here the models are
    # built without those checks to see HiGHS's own statuses mapped.
    problem = _week_problem(week, BatteryOptions(0, 15), True)
    form = build(problem)
    model = LpModel(form, time.monotonic() + 30)
    model.set_objective(*cost_objective(problem, form))
    coef, offset = import_objective(form)
    model.add_row(coef, -np.inf, -1.0 - offset)  # less than no import at all
    with pytest.raises(SolveError) as infeasible:
        model.solve()
    assert infeasible.value.reason == "infeasible"
    assert "electricBattery" in _failure(infeasible.value, 60).message

    dear_feed_in = dataclasses.replace(problem, export_price=0.5)  # above the import price
    model = LpModel(form, time.monotonic() + 30)
    model.set_objective(*cost_objective(dear_feed_in, form))
    with pytest.raises(SolveError) as unbounded:
        model.solve()
    assert unbounded.value.reason == "unbounded"
    assert "tariff.exportPrice" in _failure(unbounded.value, 60).message

    model = LpModel(form, time.monotonic() - 1)  # the budget is spent
    with pytest.raises(SolveError) as late:
        model.solve()
    assert _failure(late.value, 60).message.startswith("time limit of 60 s reached")
