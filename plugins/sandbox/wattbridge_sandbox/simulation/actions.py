"""Turning the core's :class:`ActionRef` records into simulation steps.

Only actions the device accepted change the simulation: ``acknowledged`` and
``completed``. ``scheduled`` ones have not happened yet (their start is in the
future when they are in that state), ``cancelled`` and ``failed`` ones never
happened.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from wattbridge.drivers.devices import ActionRef, Quantity
from wattbridge_sandbox.profiles import BatteryProfile, VehicleProfile
from wattbridge_sandbox.simulation.levels import Step
from wattbridge_sandbox.simulation.timebase import hours_since_epoch

EFFECTIVE_STATES = frozenset({"acknowledged", "completed"})
DEFAULT_RESERVE = 30.0
MODES = ("auto.balanced", "auto.reserve", "auto.export")


def accepted(actions: Sequence[ActionRef]) -> list[ActionRef]:
    """The actions that change the simulation, oldest first (ties: created first)."""
    chosen = [a for a in actions if a.state in EFFECTIVE_STATES]
    chosen.sort(key=lambda a: (a.start, a.created_at))
    return chosen


def quantity(parameters: Mapping[str, Quantity], name: str, unit: str) -> float | None:
    """The value of parameter ``name`` in ``unit`` (``kw`` also accepts ``w``), if given."""
    q = parameters.get(name)
    if q is None:
        return None
    if unit == "kw" and q.unit.lower() == "w":
        return q.value / 1000.0
    return float(q.value)


def _window(action: ActionRef) -> tuple[float, float | None]:
    end = None if action.end is None else hours_since_epoch(action.end)
    return hours_since_epoch(action.start), end


def vehicle_steps(profile: VehicleProfile, actions: Sequence[ActionRef]) -> list[Step]:
    """Steps of a vehicle: ``charge`` (``target``, ``power``) and ``idle``."""
    steps = []
    for action in accepted(actions):
        start, end = _window(action)
        if action.command == "charge":
            power = quantity(action.parameters, "power", "kw") or profile.ac_power_kw
            power = max(0.1, min(power, profile.ac_power_kw))
            target = quantity(action.parameters, "target", "percent") or profile.charge_limit
            steps.append(
                Step(
                    "charge",
                    start,
                    end,
                    "charge",
                    rate=power / profile.capacity_kwh * 100.0,
                    # The car stops at its charge limit whatever the target says.
                    target=min(profile.charge_limit, target),
                )
            )
        elif action.command == "idle":
            steps.append(Step("idle", start, end, "idle"))
    return steps


def battery_steps(profile: BatteryProfile, actions: Sequence[ActionRef]) -> list[Step]:
    """Steps of a battery: ``charge``, ``discharge``, ``idle`` and the ``auto.*`` modes."""
    steps = []
    for action in accepted(actions):
        start, end = _window(action)
        params = action.parameters
        power = quantity(params, "power", "kw") or profile.max_power_kw
        rate = max(0.1, min(power, profile.max_power_kw)) / profile.capacity_kwh * 100.0
        if action.command == "charge":
            target = quantity(params, "target", "percent")
            steps.append(
                Step(
                    "charge",
                    start,
                    end,
                    "charge",
                    rate=rate,
                    target=100.0 if target is None else target,
                )
            )
        elif action.command == "discharge":
            target = quantity(params, "target", "percent")
            steps.append(
                Step(
                    "discharge",
                    start,
                    end,
                    "discharge",
                    rate=rate,
                    target=profile.discharge_floor if target is None else target,
                )
            )
        elif action.command == "idle":
            steps.append(Step("idle", start, end, "idle"))
        elif action.command in MODES:
            floor = profile.discharge_floor
            if action.command == "auto.reserve":
                reserve = quantity(params, "reserve", "percent")
                floor = DEFAULT_RESERVE if reserve is None else reserve
            steps.append(Step("mode", start, end, action.command, floor=floor))
    return steps


def charger_action(actions: Sequence[ActionRef], t: float) -> ActionRef | None:
    """The charger action in force at ``t``: the newest accepted one whose window holds it.

    An open-ended ``charge`` is one session of :data:`OPEN_CHARGE_HOURS` (a
    charger cannot see the car's level, so it has no goal to reach); an
    open-ended ``idle`` lasts until replaced.
    """
    current = None
    for action in accepted(actions):
        start, end = _window(action)
        if start > t:
            break
        current = (action, start, end)
    if current is None:
        return None
    action, start, end = current
    if end is None and action.command == "charge":
        end = start + OPEN_CHARGE_HOURS
    return action if end is None or t < end else None


OPEN_CHARGE_HOURS = 4.0
