"""The ``highs`` scan solver driver: the live environment's sizing solver."""

from __future__ import annotations

import time

from wattbridge.drivers.base import EnvironmentName
from wattbridge.drivers.scans import ScanTimeline, SolveContext
from wattbridge.models.scans import ScanInput, ScanResult
from wattbridge_highs.adapter import scan_to_problem, to_scan_result
from wattbridge_highs.sizing import solve_sizing


class HighsSolver:
    """Sizes PV and battery with an hourly full-year LP (queued, solved by a worker)."""

    name = "highs"
    environments: frozenset[EnvironmentName] = frozenset({"live"})
    timeline: ScanTimeline | None = None
    # Studio requests are accepted and validated; without a stored custom profile
    # they end as a failed scan that says so (see adapter.scan_to_problem).
    supports_studio = True

    def solve(self, scan: ScanInput, context: SolveContext) -> ScanResult:
        """Solve within ``context.time_limit``; raises ``SolverFailed`` with a reason."""
        started = time.monotonic()  # preparing the series counts against the limit too
        problem = scan_to_problem(scan)
        result = solve_sizing(
            problem, time_limit_s=context.time_limit.total_seconds(), started=started
        )
        return to_scan_result(scan, result)
