"""Scan creation throughput: ``POST /v1/scans`` against a bare Starlette JSON endpoint.

Run: ``python bench/bench_scan_create.py [seconds] [rounds] [concurrency]``
(defaults 4 s, 3 rounds, 16 connections). Both servers run under the same
uvicorn in subprocesses on this machine, driven by the same load generator
(:mod:`loadgen`) in the same run; the ratio is the figure that compares across
machines. ``wattbridge serve`` runs with its workers, so the status syncer moves
the created scans along while they are being created, as in production.

Each created scan is a full sandbox creation: authentication, validation,
fixture selection, one write transaction (the scan row with its pre-staged
result and its ``scan.pending`` event), the envelope. Both servers stay up for
the whole run and are measured in alternation, round after round, so that a
machine that is busier for a while (other processes) weighs on both; the ratio
reported is the median of the rounds' ratios.

On Linux the script also reports each server's CPU time per request (from
``/proc``): unlike requests per second it hardly depends on what else the
machine is doing, so it tells a slow machine from a slow code path.

Target: wattbridge at least 0.25 times the bare endpoint's requests per second.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
from pathlib import Path

import attrs

sys.path.insert(0, str(Path(__file__).resolve().parent))

from loadgen import Load, bare_server, machine, measure, wattbridge_server

TARGET_RATIO = 0.25

BODY = {
    "inputMethod": "known",
    "yearlyKwh": 3500,
    "loadProfile": "standard",
    "goal": "cost-savings",
    "location": {"lat": 52.09, "lon": 5.12},
    "existingPv": [{"kWp": 3.2, "tilt": 35, "azimuth": 180}],
    "newPv": [{"maxPanelCount": 12, "panelWp": 430, "tilt": 35, "azimuth": 180}],
    "electricBattery": {"minKwh": 5, "maxKwh": 15},
    "export": {"allowed": True},
    "tariff": {"importPrice": 0.30, "exportPrice": 0.08},
}
"""The SPEC's example body: every section present, so validation does its full work."""


def cpu_seconds(pid: int) -> tuple[float, float] | None:
    """User and system CPU seconds a process has used so far (Linux), or None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


@attrs.frozen
class Cpu:
    """A server's CPU time per request during one measurement."""

    micros: float
    system_share: float

    def describe(self) -> str:
        """For the output line."""
        return f"  server CPU {self.micros:5.0f} µs/request ({self.system_share:.0%} system)"


def timed(pid: int, method: str, url: str, **kwargs: object) -> tuple[Load, Cpu | None]:
    """Measure ``url``; also the server's CPU time per request when known."""
    before = cpu_seconds(pid)
    load = measure(method, url, **kwargs)  # type: ignore[arg-type]
    after = cpu_seconds(pid)
    if before is None or after is None or not load.requests:
        return load, None
    user, system = ((a - b) / load.requests * 1e6 for a, b in zip(after, before, strict=True))
    total = user + system
    return load, Cpu(total, system / total if total else 0.0)


def main() -> int:
    """Measure both servers in alternation, print the figures; exit 1 below the target."""
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 4.0
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    concurrency = int(sys.argv[3]) if len(sys.argv) > 3 else 16
    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.1f}")
    print(f"{rounds} rounds of {seconds:.0f} s per server, {concurrency} connections")
    ratios: list[float] = []
    errors = 0
    cpu: dict[str, list[float]] = {"bare": [], "wattbridge": []}
    with (
        bare_server() as baseline,
        tempfile.TemporaryDirectory() as tmp,
        wattbridge_server(Path(tmp) / "data") as served,
    ):
        bare_args = {"json_body": BODY, "concurrency": concurrency}
        wb_args = {
            "json_body": BODY,
            "concurrency": concurrency,
            "headers": {"Authorization": f"Bearer {served.sandbox_key}"},
        }
        scans_url = f"{served.url}/v1/scans"
        measure("POST", f"{baseline.url}/json", seconds=1.0, **bare_args)  # type: ignore[arg-type]
        measure("POST", scans_url, seconds=1.0, **wb_args)  # type: ignore[arg-type]
        for number in range(1, rounds + 1):
            bare, bare_cpu = timed(baseline.pid, "POST", f"{baseline.url}/json",
                                   seconds=seconds, **bare_args)
            wb, wb_cpu = timed(served.pid, "POST", scans_url, seconds=seconds, **wb_args)
            errors += bare.errors + wb.errors
            ratio = wb.rps / bare.rps if bare.rps else 0.0
            ratios.append(ratio)
            for name, value in (("bare", bare_cpu), ("wattbridge", wb_cpu)):
                if value is not None:
                    cpu[name].append(value.micros)
            print(f"round {number}: bare Starlette POST /json  {bare.describe()}"
                  f"{bare_cpu.describe() if bare_cpu else ''}")
            print(f"round {number}: wattbridge POST /v1/scans {wb.describe()}"
                  f"{wb_cpu.describe() if wb_cpu else ''}   ratio {ratio:.2f}")
    ratio = statistics.median(ratios)
    ok = ratio >= TARGET_RATIO and errors == 0
    print(
        f"ratio (median of {rounds} rounds) {ratio:.2f} of bare Starlette "
        f"(target {TARGET_RATIO:.2f}: {'met' if ok else 'MISSED'}; errors {errors})"
    )
    if cpu["bare"] and cpu["wattbridge"]:
        bare_us, wb_us = statistics.median(cpu["bare"]), statistics.median(cpu["wattbridge"])
        print(
            f"server CPU per request: bare {bare_us:.0f} µs, wattbridge {wb_us:.0f} µs "
            f"(ratio {bare_us / wb_us:.2f}); load average now {os.getloadavg()[0]:.1f}"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
