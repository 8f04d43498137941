"""From column values to the reported dispatch and its yearly and monthly figures.

The reported dispatch is repaired so that a battery never charges and
discharges in the same hour: the two are replaced by their net effect on the
stored energy, which keeps the state of charge identical and frees the lost
energy, so cost and import can only go down. Import and export are then
recomputed from the hourly residual, so the energy balance closes by
construction. The stored energy is then the running sum of the repaired
flows, lifted so that its lowest hour is at the minimum charge level: one
state-of-charge path of the LP's optimum, whichever vertex the solver found.
"""

from __future__ import annotations

import numpy as np

from wattbridge_highs.problem import (
    Dispatch,
    FloatArray,
    MonthlyEnergy,
    SizingProblem,
    SizingResult,
)

_DAYS_IN_MONTH = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def month_of_hour(hours: int) -> np.ndarray:
    """Calendar month (1-12) of each hour of a non-leap year, wrapping past December."""
    months = np.repeat(np.arange(1, 13), np.array(_DAYS_IN_MONTH) * 24)
    return months[np.arange(hours) % months.shape[0]]


def build_dispatch(
    problem: SizingProblem,
    new_kwp: FloatArray,
    charge: FloatArray,
    discharge: FloatArray,
) -> Dispatch:
    """Net out simultaneous charge and discharge and settle the grid hour by hour."""
    pv = problem.existing_pv_kwh()
    for kwp, array in zip(new_kwp, problem.new_arrays(), strict=True):
        pv = pv + kwp * array.yield_per_kwp
    stored = np.zeros(problem.hours)
    if problem.battery is not None:
        eta = problem.battery.step_efficiency
        delta = eta * charge - discharge / eta
        charge = np.maximum(delta, 0.0) / eta
        discharge = np.maximum(-delta, 0.0) * eta
        # Cyclic: the path ends where it started, so only its level is free.
        path = np.cumsum(delta)
        stored = path - path.min()
    residual = problem.load_kwh - pv + charge - discharge
    imports = np.maximum(residual, 0.0)
    surplus = np.maximum(-residual, 0.0)
    exports = surplus if problem.export_allowed else np.zeros_like(surplus)
    return Dispatch(
        pv_kwh=pv,
        grid_import=imports,
        grid_export=exports,
        curtailed=surplus - exports,
        charge=charge,
        discharge=discharge,
        stored=stored,
    )


def operating_cost(problem: SizingProblem, imports: float, exports: float) -> float:
    """Import cost minus export revenue for the period."""
    export_price = problem.export_price if problem.export_allowed else 0.0
    return problem.import_price * imports - export_price * exports


def baseline_operating_cost(problem: SizingProblem) -> float:
    """What the household pays today: existing PV only, no battery."""
    residual = problem.load_kwh - problem.existing_pv_kwh()
    return operating_cost(
        problem, float(np.maximum(residual, 0).sum()), float(np.maximum(-residual, 0).sum())
    )


def summarise(
    problem: SizingProblem,
    panels: tuple[int, ...],
    battery_kwh: float | None,
    dispatch: Dispatch,
    annual_cost: float,
    solve_seconds: float,
) -> SizingResult:
    """Compute every reported figure from the repaired dispatch."""
    per_year = 1.0 / problem.period_share
    new = problem.new_arrays()
    new_kwp = [p * a.kwp_per_panel for p, a in zip(panels, new, strict=True)]
    consumption = float(problem.load_kwh.sum())
    imports = float(dispatch.grid_import.sum())
    exports = float(dispatch.grid_export.sum())
    self_consumed = consumption - imports
    production = self_consumed + exports
    investment = sum(k * a.price_per_kwp for k, a in zip(new_kwp, new, strict=True))
    power_kw = None
    if problem.battery is not None and battery_kwh is not None:
        investment += battery_kwh * problem.battery.price_per_kwh
        power_kw = problem.battery.power_kw
        if power_kw is None:
            power_kw = problem.battery.c_rate * battery_kwh
    savings = baseline_operating_cost(problem) - operating_cost(problem, imports, exports)
    savings *= per_year
    return_period = investment / savings if investment > 0 and savings > 0 else None
    return SizingResult(
        goal=problem.goal,
        new_panels=panels,
        new_kwp=float(sum(new_kwp)),
        battery_kwh=battery_kwh,
        battery_power_kw=power_kw,
        consumption_kwh=consumption,
        pv_production_kwh=production,
        self_consumed_kwh=self_consumed,
        grid_import_kwh=imports,
        grid_export_kwh=exports,
        pv_generated_kwh=float(dispatch.pv_kwh.sum()),
        curtailed_kwh=float(dispatch.curtailed.sum()),
        battery_loss_kwh=float(dispatch.charge.sum() - dispatch.discharge.sum()),
        self_sufficiency=self_consumed / consumption if consumption > 0 else 0.0,
        self_consumption=self_consumed / production if production > 0 else 0.0,
        investment=float(investment),
        yearly_savings=float(savings),
        return_period=return_period,
        co2_saved_kg=problem.co2_kg_per_kwh * production * per_year,
        annual_cost=annual_cost * per_year,
        monthly=monthly_rows(problem, dispatch),
        solve_seconds=solve_seconds,
        status="optimal",
        dispatch=dispatch,
    )


def monthly_rows(problem: SizingProblem, dispatch: Dispatch) -> tuple[MonthlyEnergy, ...]:
    """Twelve rows that add up to the yearly totals (same balance rules per month)."""
    months = month_of_hour(problem.hours)
    rows = []
    for month in range(1, 13):
        mask = months == month
        consumption = float(problem.load_kwh[mask].sum())
        imports = float(dispatch.grid_import[mask].sum())
        exports = float(dispatch.grid_export[mask].sum())
        rows.append(
            MonthlyEnergy(
                month=month,
                consumption_kwh=consumption,
                pv_production_kwh=consumption - imports + exports,
                self_consumed_kwh=consumption - imports,
                grid_import_kwh=imports,
                grid_export_kwh=exports,
            )
        )
    return tuple(rows)


def total_cost(problem: SizingProblem, investment_annual: float, dispatch: Dispatch) -> float:
    """Annualised investment plus the period's operating cost."""
    return investment_annual + operating_cost(
        problem, float(dispatch.grid_import.sum()), float(dispatch.grid_export.sum())
    )
