"""Device and action request bodies, structured strictly by the converter.

``POST /v1/sandbox/devices`` takes :class:`CreateSandboxDevice`,
``POST /v1/devices/{id}/actions`` takes :class:`PushAction`. Rules that need a
device (which commands exist, which units and bounds apply) are checked by
:mod:`wattbridge.services.capability_checks`; rules that need the clock (start
not in the past, at most 30 days ahead) by the action service.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Literal, get_args

import attrs

from wattbridge.drivers.devices import DeviceType
from wattbridge.validation.constraints import Length, rule

ConflictStrategy = Literal["cancel_and_replace", "queue_after"]
CONFLICT_STRATEGIES: tuple[ConflictStrategy, ...] = get_args(ConflictStrategy)

_NAME = Length(min=1, max=100)


@attrs.frozen
class CreateSandboxDevice:
    """Invent a simulated device: type, and optionally vendor, model and owner."""

    type: DeviceType
    vendor: str | None = attrs.field(default=None, metadata=rule(_NAME))
    user_id: str | None = attrs.field(default=None, metadata=rule(Length(min=1, max=255)))
    model: str | None = attrs.field(default=None, metadata=rule(_NAME))


@attrs.frozen
class QuantityInput:
    """A numeric parameter: ``{"value": 80, "unit": "percent"}``."""

    value: float
    unit: str = attrs.field(metadata=rule(Length(min=1, max=20)))


@attrs.frozen
class SandboxControl:
    """Forces an action's outcome for testing error paths (simulating providers only).

    ``latency`` is a duration such as ``"2s"``, ``"500ms"`` or ``"1m"``.
    """

    outcome: Literal["completed", "failed"] = "completed"
    error_code: str | None = attrs.field(default=None, metadata=rule(Length(min=1, max=64)))
    latency: str | None = None


@attrs.frozen
class PushAction:
    """A command for a device, now or in a window."""

    command: str = attrs.field(metadata=rule(_NAME))
    parameters: Mapping[str, QuantityInput] = attrs.field(factory=dict)
    start: datetime | None = None
    end: datetime | None = None
    on_conflict: ConflictStrategy | None = None
    sandbox: SandboxControl | None = None
