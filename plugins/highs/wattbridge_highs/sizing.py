"""Size PV and battery for a :class:`SizingProblem`: goals, whole panels, the report.

- ``cost-savings``: minimise annualised investment + import cost - export revenue.
- ``self-sufficiency``: stage 1 minimises grid import (the highest reachable
  self-sufficiency S*); stage 2 minimises cost among solutions whose import is
  at most ``I* + SELF_SUFFICIENCY_SLACK x consumption`` (self-sufficiency at
  most one percentage point below S*), with import as a tiny tie-breaker.
- New PV is then rounded to whole panels: every floor/ceil combination (the
  nearest rounding and all-ceil beyond four arrays) is re-solved with the PV
  fixed, warm-started, and the best feasible one is reported.
"""

from __future__ import annotations

import itertools
import math
import time
from typing import Literal

import numpy as np

from wattbridge.drivers.scans import SolverFailed
from wattbridge_highs.formulation import (
    Formulation,
    cost_objective,
    import_objective,
    investment_costs,
)
from wattbridge_highs.model import LpModel, SolveError
from wattbridge_highs.plain import build_plain
from wattbridge_highs.problem import FloatArray, SizingProblem, SizingResult
from wattbridge_highs.reduced import build_reduced
from wattbridge_highs.report import build_dispatch, summarise, total_cost
from wattbridge_highs.validate import check_problem

SELF_SUFFICIENCY_SLACK = 0.01
_TIE_BREAK = 1e-6
_MAX_FULL_ROUNDING = 4
FormulationName = Literal["reduced", "plain"]
# Measured on full-year scans (docs/solver.md): without presolve and without
# scaling, dual simplex solves the reduced LP about three times faster; the
# plain baseline keeps HiGHS's defaults.
_OPTIONS: dict[str, dict[str, bool | float | str]] = {
    "reduced": {"presolve": "off", "simplex_scale_strategy": 0},
    "plain": {},
}


def solve_sizing(
    problem: SizingProblem,
    time_limit_s: float = 60.0,
    formulation: FormulationName = "reduced",
    started: float | None = None,
) -> SizingResult:
    """Solve ``problem`` and report whole-panel sizes, dispatch and figures.

    The time limit counts from ``started`` (a :func:`time.monotonic` reading;
    default: now), so a caller's own preparation can be part of the budget.

    :raises SolverFailed: input that cannot be solved, or the time limit, with
        a message saying what to change.
    """
    started = time.monotonic() if started is None else started
    check_problem(problem)
    build = build_reduced if formulation == "reduced" else build_plain
    form = build(problem)
    model = LpModel(form, started + time_limit_s, _OPTIONS[formulation])
    try:
        x = _solve_goal(problem, form, model)
        panels, x = _whole_panels(problem, form, model, x)
    except SolveError as exc:
        raise _failure(exc, time_limit_s) from None
    # Within the bounds exactly: the solver may answer 0 as -1e-12.
    x = np.clip(x, form.col_lower, form.col_upper)
    flows = form.flows(x)
    battery_kwh = float(x[form.e_col]) if form.e_col is not None else None
    new_kwp = x[form.k_cols]
    dispatch = build_dispatch(problem, new_kwp, flows["charge"], flows["discharge"])
    annual_investment = float(investment_costs(problem, form) @ x)
    cost = total_cost(problem, annual_investment, dispatch)
    return summarise(problem, panels, battery_kwh, dispatch, cost, time.monotonic() - started)


def _solve_goal(problem: SizingProblem, form: Formulation, model: LpModel) -> FloatArray:
    """Optimise for the problem's goal; leave the model primed for re-solves."""
    cost_coef, cost_off = cost_objective(problem, form)
    if problem.goal == "cost-savings":
        model.set_objective(cost_coef, cost_off)
        return model.solve()[0]
    imp_coef, imp_off = import_objective(form)
    model.set_objective(imp_coef, imp_off)
    _, best_import = model.solve()
    cap = best_import + SELF_SUFFICIENCY_SLACK * float(problem.load_kwh.sum())
    model.add_row(imp_coef, -np.inf, cap - imp_off)
    model.set_objective(cost_coef + _TIE_BREAK * imp_coef, cost_off + _TIE_BREAK * imp_off)
    return model.solve()[0]


def _whole_panels(
    problem: SizingProblem, form: Formulation, model: LpModel, x: FloatArray
) -> tuple[tuple[int, ...], FloatArray]:
    """Round new PV to whole panels and re-evaluate each candidate with the PV fixed."""
    new = problem.new_arrays()
    if not new:
        return (), x
    panels = x[form.k_cols] / np.array([a.kwp_per_panel for a in new])
    options = []
    for count, array in zip(panels, new, strict=True):
        low = min(math.floor(count + 1e-6), array.max_panels)
        high = min(math.ceil(count - 1e-6), array.max_panels)
        options.append(sorted({low, high}))
    if len(new) <= _MAX_FULL_ROUNDING:
        candidates = list(itertools.product(*options))
    else:
        nearest = tuple(
            min(max(round(p), 0), a.max_panels) for p, a in zip(panels, new, strict=True)
        )
        candidates = [nearest, tuple(o[-1] for o in options)]
    best: tuple[float, tuple[int, ...], FloatArray] | None = None
    for candidate in candidates:
        kwp = np.array([c * a.kwp_per_panel for c, a in zip(candidate, new, strict=True)])
        model.fix_columns(form.k_cols, kwp)
        try:
            values, objective = model.solve()
        except SolveError as exc:
            if exc.reason != "infeasible":
                raise
            continue  # rounding down can miss the self-sufficiency floor; ceil cannot
        values[form.k_cols] = kwp
        if best is None or objective < best[0] - 1e-9:
            best = (objective, tuple(int(c) for c in candidate), values)
    if best is None:
        raise SolveError("infeasible")
    return best[1], best[2]


def _failure(exc: SolveError, time_limit_s: float) -> SolverFailed:
    """Turn a solver stop into a message that says what to change."""
    if exc.reason == "time limit":
        return SolverFailed(
            f"time limit of {time_limit_s:g} s reached before an optimum was found; "
            "reduce the number of PV entries or fix the battery size (capacityKwh), "
            "or ask the operator to raise the solver time limit"
        )
    if exc.reason == "infeasible":
        return SolverFailed(
            "no sizing satisfies the input; check the electricBattery bounds "
            "(minKwh, maxKwh, minimumChargeLevel) and the newPv entries"
        )
    if exc.reason == "unbounded":
        return SolverFailed(
            "the input has no bounded optimum; set tariff.exportPrice at most "
            "tariff.importPrice and check the newPv prices"
        )
    return SolverFailed(f"the solver stopped without an answer ({exc.reason}); try again later")
