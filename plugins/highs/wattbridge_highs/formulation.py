"""What every LP formulation of the sizing problem hands to the solver.

A formulation is a constraint matrix with bounds plus linear maps from its
columns to the hourly flows (import, export, charge, discharge; the stored
energy follows from charge and discharge, see :mod:`wattbridge_highs.report`).
Objectives are built from those maps, so the plain and the reduced formulation
share one definition of cost and of self-sufficiency and can be compared
column-for-column on their answers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from wattbridge_highs.problem import FloatArray, SizingProblem, capital_recovery_factor

FLOWS = ("import", "export", "charge", "discharge")


class _Triplets:
    """Collects sparse (row, column, value) entries block by block."""

    def __init__(self) -> None:
        self.rows: list[np.ndarray] = []
        self.cols: list[np.ndarray] = []
        self.vals: list[np.ndarray] = []

    def add(
        self, rows: np.ndarray, cols: np.ndarray | int | np.integer, vals: np.ndarray | float
    ) -> None:
        rows = np.asarray(rows, dtype=np.int64)
        self.rows.append(rows)
        self.cols.append(np.broadcast_to(np.asarray(cols, dtype=np.int64), rows.shape).copy())
        self.vals.append(np.broadcast_to(np.asarray(vals, dtype=np.float64), rows.shape).copy())

    def matrix(self, shape: tuple[int, int]) -> sp.csr_matrix:
        if not self.rows:
            return sp.csr_matrix(shape)
        return sp.csr_matrix(
            (np.concatenate(self.vals), (np.concatenate(self.rows), np.concatenate(self.cols))),
            shape=shape,
        )


@dataclass
class Formulation:
    """An LP over columns ``x``: ``row_lower <= A x <= row_upper``, ``col_lower <= x <= col_upper``.

    ``flow_maps[name] = (M, offset)`` gives the hourly flow ``M @ x + offset``.
    ``k_cols`` are the new-PV kWp columns (input order of the new arrays) and
    ``e_col`` the battery capacity column, if any.
    """

    name: str
    matrix: sp.csc_matrix
    row_lower: FloatArray
    row_upper: FloatArray
    col_lower: FloatArray
    col_upper: FloatArray
    k_cols: np.ndarray
    e_col: int | None
    flow_maps: dict[str, tuple[sp.csr_matrix, FloatArray]]

    @property
    def num_col(self) -> int:
        """Number of columns."""
        return int(self.matrix.shape[1])

    def flows(self, x: FloatArray) -> dict[str, FloatArray]:
        """Evaluate every hourly flow at the column values ``x``."""
        return {name: m @ x + off for name, (m, off) in self.flow_maps.items()}

    def flow_total(self, name: str) -> tuple[FloatArray, float]:
        """Coefficients and constant of the flow's sum over all hours."""
        m, off = self.flow_maps[name]
        return np.asarray(m.sum(axis=0)).ravel(), float(off.sum())


def investment_costs(problem: SizingProblem, form: Formulation) -> FloatArray:
    """Annualised investment per unit of each sizing column, for the problem's period."""
    cost = np.zeros(form.num_col)
    share = problem.period_share
    pv_crf = capital_recovery_factor(problem.discount_rate, problem.pv_lifetime_years)
    for col, array in zip(form.k_cols, problem.new_arrays(), strict=True):
        cost[col] = pv_crf * array.price_per_kwp * share
    if form.e_col is not None and problem.battery is not None:
        bat_crf = capital_recovery_factor(problem.discount_rate, problem.battery_lifetime_years)
        cost[form.e_col] = bat_crf * problem.battery.price_per_kwh * share
    return cost


def cost_objective(problem: SizingProblem, form: Formulation) -> tuple[FloatArray, float]:
    """Annualised investment + import cost - export revenue, as (coefficients, offset)."""
    imp, imp_off = form.flow_total("import")
    exp, exp_off = form.flow_total("export")
    # Without export the "export" flow is curtailment: allowed, but it earns nothing.
    export_price = problem.export_price if problem.export_allowed else 0.0
    coef = investment_costs(problem, form) + problem.import_price * imp - export_price * exp
    return coef, problem.import_price * imp_off - export_price * exp_off


def import_objective(form: Formulation) -> tuple[FloatArray, float]:
    """Total grid import (what the self-sufficiency goal minimises first)."""
    return form.flow_total("import")


def pv_potential(problem: SizingProblem) -> FloatArray:
    """Largest PV output each hour could have with every new array at its bound."""
    total = problem.existing_pv_kwh()
    for array in problem.new_arrays():
        total = total + array.max_kwp * array.yield_per_kwp
    return total


def sizing_bounds(problem: SizingProblem) -> tuple[list[float], list[float]]:
    """Lower and upper bounds of the sizing columns: new kWp per array, then capacity."""
    lower = [0.0 for _ in problem.new_arrays()]
    upper = [a.max_kwp for a in problem.new_arrays()]
    if problem.battery is not None:
        lower.append(problem.battery.min_kwh)
        upper.append(problem.battery.max_kwh)
    return lower, upper
