"""The solver writes nothing to standard output, not even HiGHS's banner.

HiGHS prints its banner once per process, so the check runs in a fresh
interpreter: in the test process an earlier test may already have started HiGHS.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

# Two solves on one day of data: the first starts HiGHS in this process, the
# second shows that later instances stay quiet too. The only line on stdout
# should be the script's own, printed after both solves.
SCRIPT = textwrap.dedent(
    """
    import dataclasses

    import numpy as np
    from wattbridge_highs.problem import BatteryOptions, PvArray, SizingProblem
    from wattbridge_highs.sizing import solve_sizing

    hours = np.arange(24)
    load = np.full(24, 0.5)
    pv_yield = np.clip(np.sin((hours - 6) / 12 * np.pi), 0, None) * 0.7
    problem = SizingProblem(
        load_kwh=load,
        pv=(PvArray(pv_yield, max_panels=10, kwp_per_panel=0.4),),
        battery=BatteryOptions(0, 5),
    )
    first = solve_sizing(problem)
    second = solve_sizing(dataclasses.replace(problem, goal="self-sufficiency"))
    print("solved", first.status, second.status)
    """
)


def test_a_solve_prints_nothing_to_stdout() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "solved optimal optimal\n"
