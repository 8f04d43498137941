"""Full-year hourly scan timing: the reduced formulation against the plain HiGHS LP.

Run ``python bench/bench_solver.py [--runs N]``. Each formulation runs in its
own process so its peak resident memory is its own. The scan: standard profile
3500 kWh, 2 kWp existing + up to 12 x 430 Wp new PV (35°, south, De Bilt),
battery sized 0-15 kWh at C-rate 0.5, export allowed, cost goal. Input data
(profile, PV yield) is prepared before the clock starts; the timing covers
building the LP, solving, whole-panel re-evaluation and the report.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time


def _scenario():  # type: ignore[no-untyped-def]
    from wattbridge_highs.loads import load_profile
    from wattbridge_highs.problem import BatteryOptions, PvArray, SizingProblem
    from wattbridge_highs.pvyield import yield_per_kwp

    pv = yield_per_kwp(52.09, 5.12, 35, 180)
    return SizingProblem(
        load_kwh=load_profile("standard", 3500),
        pv=(PvArray(pv, existing_kwp=2.0), PvArray(pv, max_panels=12, kwp_per_panel=0.43)),
        battery=BatteryOptions(0, 15),
        export_allowed=True,
    )


def _one(formulation: str, runs: int) -> dict[str, object]:
    from wattbridge_highs.sizing import solve_sizing

    problem = _scenario()
    times, cost = [], 0.0
    for _ in range(runs):
        started = time.perf_counter()
        result = solve_sizing(problem, time_limit_s=600, formulation=formulation)  # type: ignore[arg-type]
        times.append(time.perf_counter() - started)
        cost = result.annual_cost
    times.sort()
    p95_index = min(len(times) - 1, round(0.95 * (len(times) - 1)))
    return {
        "formulation": formulation,
        "runs": runs,
        "p50_s": statistics.median(times),
        "p95_s": times[p95_index],
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "annual_cost": cost,
    }


def main() -> None:
    """Run both formulations in child processes and print a comparison."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--one", choices=["reduced", "plain"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(_one(args.one, args.runs)))
        return
    rows = []
    for formulation in ("plain", "reduced"):
        out = subprocess.run(
            [sys.executable, __file__, "--one", formulation, "--runs", str(args.runs)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
    print(f"{'formulation':<12}{'runs':>6}{'p50 s':>9}{'p95 s':>9}{'peak MB':>9}{'cost €/yr':>12}")
    for r in rows:
        print(
            f"{r['formulation']:<12}{r['runs']:>6}{r['p50_s']:>9.3f}{r['p95_s']:>9.3f}"
            f"{r['peak_rss_mb']:>9.0f}{r['annual_cost']:>12.2f}"
        )
    plain, reduced = rows
    gap = abs(reduced["annual_cost"] - plain["annual_cost"]) / abs(plain["annual_cost"])
    print(f"cost difference reduced vs plain: {gap:.2e} (must be < 1e-3)")


if __name__ == "__main__":
    main()
