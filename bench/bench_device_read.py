"""``GET /v1/devices/{id}`` through ``wattbridge serve`` against a bare Starlette endpoint.

Run: ``python bench/bench_device_read.py [--seconds 5] [--concurrency 16] [--rounds 2]
[--devices 10000]``.

Both servers run under the same uvicorn on this machine, in this run; the
servers alternate (bare, wattbridge, bare, wattbridge, …) so that a change in
the machine's load hits both. The figure that matters is the ratio of
wattbridge's requests per second to the bare endpoint's, the median of the
rounds' ratios: target ≥ 0.5.

Two wattbridge loads are measured:

- **one device**, read over and over (a dashboard polling it, the target's
  case): after the first read of a second, the device's projection for that
  second is reused (docs/sandbox.md, "Reads and time"), so a read is key
  authentication, a revision check, the envelope;
- **many devices** (``--devices``), each read less than once a second: every
  read is the full path: the device row and its actions, the simulation,
  capabilities, the envelope.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import httpx

from wattbridge.config import Config
from wattbridge.platform import Platform

sys.path.insert(0, str(Path(__file__).resolve().parent))

from loadgen import Load, bare_server, machine, measure, wattbridge_server

TARGET_RATIO = 0.5


def _sandbox_device(url: str, key: str) -> str:
    """Create a battery (the type with the most state and commands) and return its id."""
    response = httpx.post(
        f"{url}/v1/sandbox/devices",
        json={"type": "battery", "vendor": "helion"},
        headers={"Authorization": f"Bearer {key}"},
    )
    response.raise_for_status()
    device_id: str = response.json()["data"]["id"]
    # One action in its history, as a device in use has.
    httpx.post(
        f"{url}/v1/devices/{device_id}/actions",
        json={"command": "auto.reserve", "parameters": {"reserve": {"value": 40,
                                                                    "unit": "percent"}}},
        headers={"Authorization": f"Bearer {key}"},
    ).raise_for_status()
    return device_id


def _many_devices(data_dir: Path, key: str, count: int) -> list[str]:
    """Create ``count`` sandbox devices of mixed types next to the running server."""
    config = Config.load(environ={}, overrides={"data_dir": str(data_dir)})
    platform = Platform(config=config, create=False)
    try:
        project_id = platform.access.authenticate(key).project.id
        devices = platform.environment("sandbox").devices
        types = ("battery", "vehicle", "solar_inverter", "ev_charger")
        return [
            devices.create_simulated(project_id, {"type": types[n % len(types)]})["id"]
            for n in range(count)
        ]
    finally:
        platform.close()


def main() -> None:
    """Measure both servers in alternating rounds and print the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--devices", type=int, default=10_000)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    print(f"load: {args.concurrency} keep-alive connections from 2 client processes, "
          f"{args.seconds:.0f} s per measurement, {args.rounds} rounds")
    bare: list[Load] = []
    one: list[Load] = []
    many: list[Load] = []
    with tempfile.TemporaryDirectory() as tmp, bare_server() as baseline, \
            wattbridge_server(Path(tmp) / "data") as served:
        device_id = _sandbox_device(served.url, served.sandbox_key)
        spread = [f"{served.url}/v1/devices/{d}"
                  for d in _many_devices(served.data_dir, served.sandbox_key, args.devices)]
        headers = {"Authorization": f"Bearer {served.sandbox_key}"}
        device_url = f"{served.url}/v1/devices/{device_id}"
        # Warm both (imports, caches, connections) outside the measured window.
        measure("GET", f"{baseline.url}/json", seconds=1, concurrency=4)
        measure("GET", device_url, headers=headers, seconds=1, concurrency=4)
        for _ in range(args.rounds):
            bare.append(measure("GET", f"{baseline.url}/json", seconds=args.seconds,
                                concurrency=args.concurrency))
            print(f"bare Starlette GET /json             {bare[-1].describe()}")
            one.append(measure("GET", device_url, headers=headers, seconds=args.seconds,
                               concurrency=args.concurrency))
            print(f"wattbridge, one device               {one[-1].describe()}")
            many.append(measure("GET", spread, headers=headers, seconds=args.seconds,
                                concurrency=args.concurrency))
            print(f"wattbridge, {args.devices} devices in turn {many[-1].describe()}")
    if any(load.errors for load in bare + one + many):
        raise SystemExit("a measurement saw errors; the figures are not valid")
    bare_rps = statistics.median(load.rps for load in bare)
    for label, loads in (("one device", one), (f"{args.devices} devices", many)):
        our_rps = statistics.median(load.rps for load in loads)
        # Each round's ratio compares measurements taken seconds apart, so a
        # machine that is busier for a while weighs on both (as in bench_scan_create).
        ratios = [ours.rps / base.rps for ours, base in zip(loads, bare, strict=True)]
        ratio = statistics.median(ratios)
        verdict = "met" if ratio >= TARGET_RATIO else "MISSED"
        print(f"{label}: rounds {', '.join(f'{r:.2f}' for r in ratios)}; median ratio "
              f"{ratio:.2f} (target ≥ {TARGET_RATIO}: {verdict}); median wattbridge "
              f"{our_rps:.0f} req/s, bare {bare_rps:.0f} req/s")


if __name__ == "__main__":
    main()
