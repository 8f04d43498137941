"""``GET /v1/devices/{id}`` through ``wattbridge serve`` against a bare Starlette endpoint.

Run: ``python bench/bench_device_read.py [--seconds 5] [--concurrency 16] [--rounds 2]
[--devices 10000]``.

Both servers run under the same uvicorn on this machine, in this run; the
servers alternate (bare, wattbridge, bare, wattbridge, …) so that a change in
the machine's load hits both. The figure that matters is the ratio of
wattbridge's requests per second to the bare endpoint's, the median of the
rounds' ratios: target ≥ 0.5.

Four wattbridge loads are measured:

- **one device**, read over and over (a dashboard polling it, the target's
  case): after the first read of a second, the device's answer for that second
  is given again (docs/sandbox.md, "Reads and time"), so a read is key
  authentication, a revision check, the envelope;
- **many devices** (``--devices``), each read less than once a second and
  each read before (a fleet polled steadily: the bench reads every device once
  first): a read projects the device again from its row and actions, which are
  remembered while the environment's database is unchanged;
- **many devices, busy**: the same, while scans are created in the same
  environment (``--writes`` a second, through the API): each creation writes
  to the environment's database, but not to its devices or actions, so reads
  stay remembered;
- **many devices, changing**: the same, while actions are pushed to the
  batteries among them (``--writes`` a second): each push changes the
  devices' generation, so nearly every read takes the full path: the device
  row and its actions from SQLite, the simulation, capabilities, the envelope.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from wattbridge.config import Config
from wattbridge.platform import Platform

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_scan_create import BODY as SCAN_BODY
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


@contextmanager
def posting(
    url: str, key: str, per_second: float, requests: Iterator[tuple[str, dict[str, Any]]]
) -> Iterator[list[int]]:
    """POST ``requests`` (path, JSON body) at ``per_second`` in a thread until the
    block ends; yields a one-item list that ends up holding the number posted."""
    posted = [0]
    stop = threading.Event()

    def run() -> None:
        with httpx.Client(headers={"Authorization": f"Bearer {key}"}) as client:
            next_at = time.monotonic()
            while not stop.is_set():
                path, body = next(requests)
                client.post(f"{url}{path}", json=body).raise_for_status()
                posted[0] += 1
                next_at += 1 / per_second
                stop.wait(max(0.0, next_at - time.monotonic()))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield posted
    finally:
        stop.set()
        thread.join()


def main() -> None:
    """Measure both servers in alternating rounds and print the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--writes", type=float, default=20.0,
                        help="scans created (busy load) or actions pushed (changing load) "
                             "per second")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    print(f"load: {args.concurrency} keep-alive connections from 2 client processes, "
          f"{args.seconds:.0f} s per measurement, {args.rounds} rounds")
    bare: list[Load] = []
    one: list[Load] = []
    many: list[Load] = []
    busy: list[Load] = []
    changing: list[Load] = []
    bare_late: list[Load] = []
    with tempfile.TemporaryDirectory() as tmp, bare_server() as baseline, \
            wattbridge_server(Path(tmp) / "data") as served:
        device_id = _sandbox_device(served.url, served.sandbox_key)
        spread = [f"{served.url}/v1/devices/{d}"
                  for d in _many_devices(served.data_dir, served.sandbox_key, args.devices)]
        headers = {"Authorization": f"Bearer {served.sandbox_key}"}
        # Actions for the changing load: "idle" on the batteries, one after another.
        batteries = [url.rsplit("/", 1)[1] for url in spread[::4]]  # every 4th is a battery
        pushes = ((f"/v1/devices/{d}/actions", {"command": "idle"})
                  for d in itertools.cycle(batteries))
        device_url = f"{served.url}/v1/devices/{device_id}"
        # Warm both (imports, caches, connections) outside the measured window,
        # and read every device once, as a fleet that is polled steadily has been.
        measure("GET", f"{baseline.url}/json", seconds=1, concurrency=4)
        measure("GET", device_url, headers=headers, seconds=1, concurrency=4)
        with httpx.Client(headers=headers) as client:
            for url in spread:
                client.get(url).raise_for_status()
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
            with posting(served.url, served.sandbox_key, args.writes,
                         itertools.repeat(("/v1/scans", SCAN_BODY))) as created:
                busy.append(measure("GET", spread, headers=headers, seconds=args.seconds,
                                    concurrency=args.concurrency))
            print(f"wattbridge, {args.devices} devices, busy  {busy[-1].describe()}"
                  f"  ({created[0]} scans created meanwhile)")
        # Last, in rounds of their own: the pushed actions go on changing for a
        # while (the workers acknowledge and complete them), which would make
        # every later load of a round a changing one too.
        for _ in range(args.rounds):
            bare_late.append(measure("GET", f"{baseline.url}/json", seconds=args.seconds,
                                     concurrency=args.concurrency))
            print(f"bare Starlette GET /json             {bare_late[-1].describe()}")
            with posting(served.url, served.sandbox_key, args.writes, pushes) as pushed:
                changing.append(measure("GET", spread, headers=headers, seconds=args.seconds,
                                        concurrency=args.concurrency))
            print(f"wattbridge, {args.devices} devices, changing {changing[-1].describe()}"
                  f"  ({pushed[0]} actions pushed meanwhile)")
    if any(load.errors for load in bare + bare_late + one + many + busy + changing):
        raise SystemExit("a measurement saw errors; the figures are not valid")
    for label, loads, bases in (("one device", one, bare),
                                (f"{args.devices} devices", many, bare),
                                (f"{args.devices} devices, busy", busy, bare),
                                (f"{args.devices} devices, changing", changing, bare_late)):
        our_rps = statistics.median(load.rps for load in loads)
        bare_rps = statistics.median(load.rps for load in bases)
        # Each round's ratio compares measurements taken seconds apart, so a
        # machine that is busier for a while weighs on both (as in bench_scan_create).
        ratios = [ours.rps / base.rps for ours, base in zip(loads, bases, strict=True)]
        ratio = statistics.median(ratios)
        verdict = "met" if ratio >= TARGET_RATIO else "MISSED"
        print(f"{label}: rounds {', '.join(f'{r:.2f}' for r in ratios)}; median ratio "
              f"{ratio:.2f} (target ≥ {TARGET_RATIO}: {verdict}); median wattbridge "
              f"{our_rps:.0f} req/s, bare {bare_rps:.0f} req/s")


if __name__ == "__main__":
    main()
