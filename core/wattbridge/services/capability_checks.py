"""Checking an action against a device's presence-based capabilities.

The checks run in a fixed order (command → parameter names → units → ranges →
execution shape) and stop at the first problem, so a client fixes one thing
at a time and always learns the accepted alternatives from the message.
Quantities are converted to the parameter's own unit (``w`` → ``kw``) so that
providers only ever see the unit their capabilities declare.
"""

from __future__ import annotations

from collections.abc import Mapping

from wattbridge.drivers.devices import Capabilities, ExecutionShape, Quantity
from wattbridge.errors import (
    ParameterOutOfRange,
    UnsupportedMode,
    UnsupportedParameter,
    UnsupportedUnit,
)
from wattbridge.models.devices import QuantityInput

UNIT_ALIASES: Mapping[str, Mapping[str, float]] = {
    "kw": {"kw": 1.0, "w": 0.001},
    "kwh": {"kwh": 1.0, "wh": 0.001},
    "percent": {"percent": 1.0},
    "a": {"a": 1.0},
}
"""For each canonical unit, the units a client may send and their factor to it."""


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def check_action(
    capabilities: Capabilities,
    command: str,
    parameters: Mapping[str, QuantityInput],
    shape: ExecutionShape,
) -> dict[str, Quantity]:
    """Validate ``command`` and ``parameters``; return them in the declared units.

    :raises UnsupportedMode: the device has no such command, or not in this shape.
    :raises UnsupportedParameter: the command does not take a parameter.
    :raises UnsupportedUnit: a quantity's unit is not accepted (message lists them).
    :raises ParameterOutOfRange: a value is outside the bounds (message names them).
    """
    spec = capabilities.commands.get(command)
    if spec is None:
        offered = sorted(capabilities.commands)
        hint = f"supported: {', '.join(offered)}" if offered else "it accepts no commands"
        raise UnsupportedMode(
            f"This device does not support the command {command!r}; {hint}.",
            {"command": command, "supportedCommands": offered},
        )
    for name in parameters:
        if name not in spec.parameters:
            allowed = sorted(spec.parameters)
            hint = f"accepted: {', '.join(allowed)}" if allowed else "it takes no parameters"
            raise UnsupportedParameter(
                f"The command {command!r} does not take the parameter {name!r} on this device; "
                f"{hint}.",
                {"parameter": name, "acceptedParameters": allowed},
            )
    converted: dict[str, Quantity] = {}
    for name, given in parameters.items():
        param = spec.parameters[name]
        units = UNIT_ALIASES.get(param.unit, {param.unit: 1.0})
        factor = units.get(given.unit.lower())
        if factor is None:
            raise UnsupportedUnit(
                f"{name!r} does not accept the unit {given.unit!r}; "
                f"use one of: {', '.join(units)}.",
                {"parameter": name, "unit": given.unit, "acceptedUnits": list(units)},
            )
        converted[name] = Quantity(given.value * factor, param.unit)
    for name, quantity in converted.items():
        param = spec.parameters[name]
        if not param.min <= quantity.value <= param.max:
            raise ParameterOutOfRange(
                f"{name!r} must be between {_fmt(param.min)} and {_fmt(param.max)} "
                f"{param.unit}, got {_fmt(quantity.value)} {param.unit}.",
                {"parameter": name, "min": param.min, "max": param.max, "unit": param.unit},
            )
    if shape not in spec.execution:
        raise UnsupportedMode(
            f"The command {command!r} cannot run {shape} on this device; "
            f"accepted: {', '.join(spec.execution)}.",
            {"command": command, "execution": shape, "acceptedExecution": list(spec.execution)},
        )
    return converted
