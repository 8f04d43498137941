"""The ``sandbox`` plugin: simulated devices for the sandbox environment.

Devices are simulated from the UTC clock (see docs/sandbox.md): their state is
a pure function of the device, the instant and the device's actions.
"""

from __future__ import annotations

from collections.abc import Callable

from wattbridge import hookimpl
from wattbridge.drivers.devices import DeviceProvider
from wattbridge_sandbox.provider import SandboxProvider

__all__ = ["SandboxProvider", "register_device_providers"]


@hookimpl
def register_device_providers(register: Callable[[DeviceProvider], None]) -> None:
    """Register the simulator as the ``sandbox`` device provider."""
    register(SandboxProvider())
