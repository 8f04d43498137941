"""How long the sandbox takes to project the state of 10,000 devices.

Run: ``python bench/bench_projection.py``. Devices are created (and their
per-device constants precomputed) once; the timed part is one state read per
device at one instant, as a fleet-wide ``GET /v1/devices`` page sweep would do.
The first instant of a day is *cold*: each device's plan for that day (which
hashes its seed) is computed then and cached; the later instants of the day are
*warm*. Target: under 100 ms for the 10,000 warm reads on one core.
"""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime

from wattbridge.drivers.devices import DEVICE_TYPES, DeviceRef
from wattbridge_sandbox import SandboxProvider
from wattbridge_sandbox.profiles import profile_for
from wattbridge_sandbox.simulation import project_state

DEVICES = 10_000
TARGET_MS = 100.0


def main() -> None:
    """Create the fleet, then time one projection per device (best of 5 instants)."""
    provider = SandboxProvider()
    refs = []
    for i in range(DEVICES):
        found = provider.create_device(DEVICE_TYPES[i % 4], None, None, f"bench-{i}")
        refs.append(
            DeviceRef(
                f"dev_{i}",
                found.type,
                found.vendor,
                found.model,
                found.external_id,
                found.attributes,
            )
        )
    profiles = [profile_for(ref) for ref in refs]
    timings = []
    for hour in (3, 8, 12, 18, 22):
        at = datetime(2026, 6, 1, hour, 17, tzinfo=UTC)
        started = time.perf_counter()
        for profile in profiles:
            project_state(profile, at)
        timings.append((time.perf_counter() - started) * 1000)
    # The same through the provider (attribute parsing included, cached per device).
    at = datetime(2026, 6, 1, 12, 47, tzinfo=UTC)
    started = time.perf_counter()
    for ref in refs:
        provider.read_state(ref, at, ())
    via_provider = (time.perf_counter() - started) * 1000
    warm = statistics.median(timings[1:])
    print(
        f"projected {DEVICES} devices: cold {timings[0]:.1f} ms, warm median {warm:.1f} ms "
        f"(best {min(timings[1:]):.1f}; target {TARGET_MS:.0f} ms: "
        f"{'met' if warm < TARGET_MS else 'MISSED'}); through read_state (warm): "
        f"{via_provider:.1f} ms"
    )


if __name__ == "__main__":
    main()
