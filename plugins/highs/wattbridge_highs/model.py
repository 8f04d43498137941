"""A formulation loaded into HiGHS, kept alive between solves for warm starts.

Changing an objective, a bound or adding a row keeps HiGHS's basis, so the
second stage of the self-sufficiency goal and the whole-panel re-evaluations
restart from the previous optimum instead of from scratch.
"""

from __future__ import annotations

import time

import highspy
import numpy as np

from wattbridge_highs.formulation import Formulation
from wattbridge_highs.problem import FloatArray
from wattbridge_highs.quiet import new_highs


class SolveError(Exception):
    """HiGHS stopped without an optimum: ``infeasible``, ``unbounded``, ``time limit`` or other."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class LpModel:
    """One formulation in one HiGHS instance, with a wall-clock budget over all solves."""

    def __init__(
        self,
        form: Formulation,
        deadline: float,
        options: dict[str, bool | float | str] | None = None,
    ) -> None:
        self.form = form
        self.deadline = deadline
        self.offset = 0.0  # the objective's constant, the answer of a model without columns
        self.highs = new_highs()  # output_flag off, and no banner on stdout
        for name, value in (options or {}).items():
            self.highs.setOptionValue(name, value)
        lp = highspy.HighsLp()
        lp.num_col_ = form.num_col
        lp.num_row_ = int(form.matrix.shape[0])
        lp.col_cost_ = np.zeros(form.num_col)
        lp.col_lower_ = form.col_lower
        lp.col_upper_ = form.col_upper
        lp.row_lower_ = form.row_lower
        lp.row_upper_ = form.row_upper
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = form.matrix.indptr
        lp.a_matrix_.index_ = form.matrix.indices
        lp.a_matrix_.value_ = form.matrix.data
        self.highs.passModel(lp)

    def set_objective(self, coef: FloatArray, offset: float) -> None:
        """Replace the (minimised) objective."""
        idx = np.arange(self.form.num_col, dtype=np.int32)
        self.highs.changeColsCost(len(idx), idx, np.asarray(coef, dtype=np.float64))
        self.highs.changeObjectiveOffset(offset)
        self.offset = offset

    def add_row(self, coef: FloatArray, lower: float, upper: float) -> None:
        """Add one constraint ``lower <= coef @ x <= upper`` (dense ``coef``)."""
        idx = np.flatnonzero(coef).astype(np.int32)
        self.highs.addRow(lower, upper, len(idx), idx, coef[idx])

    def fix_columns(self, cols: np.ndarray, values: FloatArray) -> None:
        """Fix columns to values (whole-panel re-evaluation)."""
        cols = np.asarray(cols, dtype=np.int32)
        vals = np.asarray(values, dtype=np.float64)
        self.highs.changeColsBounds(len(cols), cols, vals, vals)

    def release_columns(self, cols: np.ndarray, lower: FloatArray, upper: FloatArray) -> None:
        """Give columns back their original bounds."""
        cols = np.asarray(cols, dtype=np.int32)
        self.highs.changeColsBounds(
            len(cols), cols, np.asarray(lower, float), np.asarray(upper, float)
        )

    def solve(self) -> tuple[FloatArray, float]:
        """Solve within the remaining budget; answer the column values and objective."""
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise SolveError("time limit")
        if self.form.num_col == 0:
            # Nothing to size (no new PV, no battery): HiGHS calls such a model
            # "empty" and reports no objective, yet its one point is the answer.
            return np.zeros(0), self.offset
        self.highs.setOptionValue("time_limit", float(remaining))
        self.highs.run()
        status = self.highs.getModelStatus()
        if status == highspy.HighsModelStatus.kOptimal:
            x = np.asarray(self.highs.getSolution().col_value, dtype=np.float64)
            return x, float(self.highs.getInfo().objective_function_value)
        if status == highspy.HighsModelStatus.kTimeLimit:
            raise SolveError("time limit")
        if status in (
            highspy.HighsModelStatus.kInfeasible,
            highspy.HighsModelStatus.kUnboundedOrInfeasible,
        ):
            raise SolveError("infeasible")
        if status == highspy.HighsModelStatus.kUnbounded:
            raise SolveError("unbounded")
        raise SolveError(self.highs.modelStatusToString(status))
