"""The live scan solver: PV and battery sizing as a linear programme solved by HiGHS.

The numeric core is :func:`wattbridge_highs.sizing.solve_sizing` over the
plugin's own :class:`~wattbridge_highs.problem.SizingProblem`; input series
come from :mod:`wattbridge_highs.loads` and :mod:`wattbridge_highs.pvyield`.
The adapter (:mod:`wattbridge_highs.adapter`) maps the validated scan input onto
it. See docs/solver.md and docs/data.md.
"""

from __future__ import annotations

from collections.abc import Callable

from wattbridge import hookimpl
from wattbridge.drivers.scans import ScanSolver
from wattbridge_highs.solver import HighsSolver

__all__ = ["HighsSolver", "register_scan_solvers"]


@hookimpl
def register_scan_solvers(register: Callable[[ScanSolver], None]) -> None:
    """Register the live HiGHS solver."""
    register(HighsSolver())
