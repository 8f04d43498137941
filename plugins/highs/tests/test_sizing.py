"""Full-year scans: balance, no simultaneous charge/discharge, direction of change, realism."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from wattbridge.drivers.scans import SolverFailed
from wattbridge_highs.problem import BatteryOptions, PvArray, SizingProblem, SizingResult
from wattbridge_highs.sizing import solve_sizing

pytestmark = pytest.mark.slow


def _problem(year_load, year_yield, **changes) -> SizingProblem:
    base = SizingProblem(
        load_kwh=year_load,
        pv=(
            PvArray(year_yield, existing_kwp=2.0),
            PvArray(year_yield, max_panels=12, kwp_per_panel=0.43),
        ),
        battery=BatteryOptions(0, 15),
        export_allowed=True,
    )
    return dataclasses.replace(base, **changes)


@pytest.fixture(scope="module")
def cost_result(year_load, year_yield) -> SizingResult:
    return solve_sizing(_problem(year_load, year_yield))


def test_energy_balance_closes_every_hour(cost_result, year_load) -> None:
    d = cost_result.dispatch
    supply = d.pv_kwh - d.curtailed - d.grid_export + d.grid_import - d.charge + d.discharge
    assert np.max(np.abs(supply - year_load)) < 1e-6


def test_never_charges_and_discharges_at_once(cost_result) -> None:
    d = cost_result.dispatch
    assert not np.any((d.charge > 1e-9) & (d.discharge > 1e-9))


def test_reported_figures_follow_the_balance_rules(cost_result) -> None:
    r = cost_result
    assert r.self_consumed_kwh + r.grid_export_kwh == pytest.approx(r.pv_production_kwh)
    assert r.self_consumed_kwh + r.grid_import_kwh == pytest.approx(r.consumption_kwh)
    assert r.self_sufficiency == pytest.approx(r.self_consumed_kwh / r.consumption_kwh)
    assert r.return_period == pytest.approx(r.investment / r.yearly_savings)
    assert len(r.monthly) == 12
    for field in ("consumption_kwh", "pv_production_kwh", "grid_import_kwh", "grid_export_kwh"):
        assert sum(getattr(m, field) for m in r.monthly) == pytest.approx(getattr(r, field))
    assert r.new_kwp == pytest.approx(r.new_panels[0] * 0.43)


def test_realistic_for_the_netherlands(year_yield, cost_result) -> None:
    # Published ranges (docs/data.md): 850-1050 kWh/kWp; about 2 kWp per MWh of
    # consumption with little storage: self-consumption 20-45 %, self-sufficiency
    # 35-60 %; payback 5-15 years.
    assert 850 <= year_yield.sum() <= 1050
    assert 1.8 <= (cost_result.new_kwp + 2.0) / 3.5 <= 2.2
    assert 0.20 <= cost_result.self_consumption <= 0.45
    assert 0.35 <= cost_result.self_sufficiency <= 0.60
    assert 5 <= (cost_result.return_period or 0) <= 15


def test_higher_battery_price_gives_no_larger_battery(year_load, year_yield, cost_result) -> None:
    dear = BatteryOptions(0, 15, price_per_kwh=1500)
    result = solve_sizing(_problem(year_load, year_yield, battery=dear))
    assert (result.battery_kwh or 0) <= (cost_result.battery_kwh or 0) + 1e-6


def test_feed_in_price_is_ignored_without_export(year_load, year_yield) -> None:
    low = solve_sizing(_problem(year_load, year_yield, export_allowed=False, export_price=0.0))
    high = solve_sizing(_problem(year_load, year_yield, export_allowed=False, export_price=0.29))
    assert (low.new_panels, low.battery_kwh) == (high.new_panels, high.battery_kwh)
    assert low.grid_export_kwh == high.grid_export_kwh == 0


def test_self_sufficiency_goal_reaches_at_least_the_cost_goal(
    year_load, year_yield, cost_result
) -> None:
    result = solve_sizing(_problem(year_load, year_yield, goal="self-sufficiency"))
    assert result.self_sufficiency >= cost_result.self_sufficiency - 1e-9


def test_reduced_and_plain_answer_alike(year_load, year_yield, cost_result) -> None:
    plain = solve_sizing(_problem(year_load, year_yield), formulation="plain")
    assert plain.annual_cost == pytest.approx(cost_result.annual_cost, rel=1e-3)


@pytest.mark.parametrize(
    "changes",
    [
        {"goal": "self-sufficiency"},
        {"export_allowed": False, "battery": BatteryOptions(8, 8, minimum_charge_level=0.2)},
    ],
    ids=["self-sufficiency", "no export, fixed battery"],
)
def test_reduced_and_plain_answer_alike_on_other_scans(year_load, year_yield, changes) -> None:
    problem = _problem(year_load, year_yield, **changes)
    plain = solve_sizing(problem, formulation="plain")
    reduced = solve_sizing(problem)
    assert reduced.annual_cost == pytest.approx(plain.annual_cost, rel=1e-3)
    assert reduced.self_sufficiency == pytest.approx(plain.self_sufficiency, abs=1e-3)


def test_stored_energy_follows_the_flows_within_the_battery(cost_result) -> None:
    d, capacity = cost_result.dispatch, cost_result.battery_kwh or 0.0
    eta = np.sqrt(0.9)
    assert d.stored.min() == pytest.approx(0.0, abs=1e-9)
    assert d.stored.max() <= 0.9 * capacity + 1e-6  # usable: above the 10 % minimum level
    change = np.diff(d.stored, prepend=d.stored[-1])  # cyclic: the year ends where it began
    assert np.allclose(change, eta * d.charge - d.discharge / eta, atol=1e-6)


def test_time_limit_is_a_solver_failure(year_load, year_yield) -> None:
    with pytest.raises(SolverFailed, match=r"^time limit"):
        solve_sizing(_problem(year_load, year_yield), time_limit_s=1e-4)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"export_price": 0.5}, "tariff.exportPrice"),
        ({"load_kwh": np.zeros(8760)}, "yearlyKwh"),
        ({"battery": BatteryOptions(5, 15, roundtrip_efficiency=0.0)}, "roundtripEfficiency"),
        ({"battery": BatteryOptions(5, 15, minimum_charge_level=1.0)}, "minimumChargeLevel"),
    ],
)
def test_unsolvable_input_names_what_to_change(year_load, year_yield, changes, field) -> None:
    with pytest.raises(SolverFailed, match=field):
        solve_sizing(_problem(year_load, year_yield, **changes))
