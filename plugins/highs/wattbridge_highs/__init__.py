"""The live scan solver: PV and battery sizing as a linear programme solved by HiGHS.

The numeric core is :func:`wattbridge_highs.sizing.solve_sizing` over the
plugin's own :class:`~wattbridge_highs.problem.SizingProblem`; input series
come from :mod:`wattbridge_highs.loads` and :mod:`wattbridge_highs.pvyield`.
The adapter from the validated scan input and the hook registration are added
separately. See docs/solver.md and docs/data.md.
"""
