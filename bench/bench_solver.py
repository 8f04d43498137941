"""Full-year hourly scan timing: the reduced formulation against the plain HiGHS LP.

Run ``python bench/bench_solver.py [--runs N]``. Each formulation runs in its
own process so its peak resident memory is its own. The timed scan ("cost"):
standard profile 3500 kWh, 2 kWp existing + up to 12 x 430 Wp new PV (35°,
south, De Bilt), battery sized 0-15 kWh at C-rate 0.5, export allowed, cost
goal. Input data (profile, PV yield) is prepared before the clock starts; the
timing covers building the LP, solving, whole-panel re-evaluation and the
report. The first scan of a process (imports, first allocations) is shown
separately as "cold" and left out of p50/p95: a worker process solves many.
"cpu p50" is the process CPU time of the median run: on a busy machine the
wall-clock figures grow with the load, the CPU time much less.

Then every scenario of :data:`SCENARIOS` is solved once more by both
formulations and their annual costs are compared: the reduced one must be
within 0.1 % of the plain LP on each (``--no-check`` skips this part).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import statistics
import subprocess
import sys
import time

SCENARIOS = ("cost", "self-sufficiency", "no-export", "fixed-battery", "east-west-power")
TOLERANCE = 1e-3


def _scenario(name: str = "cost"):  # type: ignore[no-untyped-def]
    from wattbridge_highs.loads import load_profile
    from wattbridge_highs.problem import BatteryOptions, PvArray, SizingProblem
    from wattbridge_highs.pvyield import yield_per_kwp

    pv = yield_per_kwp(52.09, 5.12, 35, 180)
    base = SizingProblem(
        load_kwh=load_profile("standard", 3500),
        pv=(PvArray(pv, existing_kwp=2.0), PvArray(pv, max_panels=12, kwp_per_panel=0.43)),
        battery=BatteryOptions(0, 15),
        export_allowed=True,
    )
    if name == "self-sufficiency":
        return dataclasses.replace(base, goal="self-sufficiency")
    if name == "no-export":
        return dataclasses.replace(base, export_allowed=False)
    if name == "fixed-battery":
        return dataclasses.replace(base, battery=BatteryOptions(8, 8, minimum_charge_level=0.2))
    if name == "east-west-power":
        east = yield_per_kwp(52.09, 5.12, 30, 90)
        west = yield_per_kwp(52.09, 5.12, 30, 270)
        return dataclasses.replace(
            base,
            load_kwh=load_profile("3kidsbothwork", 5200),
            pv=(
                PvArray(east, max_panels=10, kwp_per_panel=0.43),
                PvArray(west, max_panels=10, kwp_per_panel=0.43),
            ),
            battery=BatteryOptions(2, 12, power_kw=3.0, price_per_kwh=400),
        )
    return base


def _one(formulation: str, runs: int, check: bool) -> dict[str, object]:
    from wattbridge_highs.sizing import solve_sizing

    problem = _scenario()
    times, cpu, cost = [], [], 0.0
    for _ in range(runs + 1):  # the first is the cold run
        started, cpu_started = time.perf_counter(), time.process_time()
        result = solve_sizing(problem, time_limit_s=600, formulation=formulation)  # type: ignore[arg-type]
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - cpu_started)
        cost = result.annual_cost
    cold, warm = times[0], sorted(times[1:])
    p95_index = min(len(warm) - 1, round(0.95 * (len(warm) - 1)))
    # Read before the scenario checks: the peak belongs to the timed scan alone.
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    costs = {}
    if check:
        for name in SCENARIOS:
            costs[name] = solve_sizing(
                _scenario(name),
                time_limit_s=600,
                formulation=formulation,  # type: ignore[arg-type]
            ).annual_cost
    return {
        "formulation": formulation,
        "runs": runs,
        "cold_s": cold,
        "p50_s": statistics.median(warm),
        "p95_s": warm[p95_index],
        "cpu_p50_s": statistics.median(cpu[1:]),
        "peak_rss_mb": peak_rss_mb,
        "annual_cost": cost,
        "scenario_costs": costs,
    }


def main() -> None:
    """Run both formulations in child processes and print a comparison."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--no-check", action="store_true", help="skip the scenario costs")
    parser.add_argument("--one", choices=["reduced", "plain"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(_one(args.one, args.runs, not args.no_check)))
        return
    rows = []
    for formulation in ("plain", "reduced"):
        command = [sys.executable, __file__, "--one", formulation, "--runs", str(args.runs)]
        if args.no_check:
            command.append("--no-check")
        out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
    print(
        f"{'formulation':<12}{'runs':>6}{'cold s':>9}{'p50 s':>9}{'p95 s':>9}"
        f"{'cpu p50':>9}{'peak MB':>9}{'cost €/yr':>12}"
    )
    for r in rows:
        print(
            f"{r['formulation']:<12}{r['runs']:>6}{r['cold_s']:>9.3f}{r['p50_s']:>9.3f}"
            f"{r['p95_s']:>9.3f}{r['cpu_p50_s']:>9.3f}{r['peak_rss_mb']:>9.0f}"
            f"{r['annual_cost']:>12.2f}"
        )
    plain, reduced = rows
    gap = abs(reduced["annual_cost"] - plain["annual_cost"]) / abs(plain["annual_cost"])
    print(f"cost difference reduced vs plain: {gap:.2e} (must be < {TOLERANCE:g})")
    worst = gap
    if plain["scenario_costs"]:
        print(f"\n{'scenario':<18}{'plain €/yr':>12}{'reduced €/yr':>14}{'rel. diff':>11}")
        for name, cost in plain["scenario_costs"].items():
            other = reduced["scenario_costs"][name]
            diff = abs(other - cost) / abs(cost)
            worst = max(worst, diff)
            print(f"{name:<18}{cost:>12.2f}{other:>14.2f}{diff:>11.1e}")
    if worst >= TOLERANCE:
        sys.exit(f"the reduced formulation is off by {worst:.2e} (must be < {TOLERANCE:g})")


if __name__ == "__main__":
    main()
