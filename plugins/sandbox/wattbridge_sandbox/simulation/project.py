"""The state of a simulated device at an instant: the API's camelCase fields.

A pure function of (profile, instant, accepted actions): no clock, no global
state, so two reads at the same instant give the same dict.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from wattbridge.drivers.devices import ActionRef
from wattbridge_sandbox.profiles import (
    BatteryProfile,
    ChargerProfile,
    Profile,
    SolarProfile,
    VehicleProfile,
)
from wattbridge_sandbox.simulation.actions import (
    battery_steps,
    charger_action,
    quantity,
    vehicle_steps,
)
from wattbridge_sandbox.simulation.battery import BatteryBaseline, battery_level
from wattbridge_sandbox.simulation.charger import charger_point, max_power_kw
from wattbridge_sandbox.simulation.levels import LevelWalker
from wattbridge_sandbox.simulation.solar import solar_point
from wattbridge_sandbox.simulation.timebase import hours_since_epoch
from wattbridge_sandbox.simulation.vehicle import VehicleBaseline, vehicle_point

DEFAULT_BATTERY_MODE = "auto.balanced"


def project_state(
    profile: Profile, at: datetime, actions: Sequence[ActionRef] = ()
) -> dict[str, Any]:
    """The device's state at ``at`` under its ``actions`` (see docs/sandbox.md)."""
    t = hours_since_epoch(at)
    if isinstance(profile, VehicleProfile):
        return vehicle_state(profile, t, actions)
    if isinstance(profile, BatteryProfile):
        return battery_state(profile, t, actions)
    if isinstance(profile, SolarProfile):
        return solar_state(profile, t)
    return charger_state(profile, t, actions)


def vehicle_state(
    profile: VehicleProfile, t: float, actions: Sequence[ActionRef] = ()
) -> dict[str, Any]:
    """Vehicle fields at ``t`` (epoch hours)."""
    point = vehicle_point(profile, t)
    level, slope = point.level, point.slope
    plugged, charging = point.plugged, point.charging
    steps = vehicle_steps(profile, actions) if actions else []
    if steps:
        state = LevelWalker(VehicleBaseline(profile), steps, 0.0).at(t)
        level, slope = state.level, state.slope
        if state.regime == "charge":
            plugged, charging = True, slope > 0
        elif state.regime == "idle":
            charging = False
        else:
            charging = charging and slope > 0
    shown = round(level, 1)
    full = shown >= profile.charge_limit
    charging = charging and not full
    return {
        "batteryLevel": shown,
        "range": round(level / 100.0 * profile.capacity_kwh * profile.km_per_kwh),
        "plugged": plugged,
        "charging": charging,
        "fullyCharged": full,
        "batteryCapacity": profile.capacity_kwh,
        "chargeLimit": profile.charge_limit,
        "chargeRate": round(slope / 100.0 * profile.capacity_kwh, 2) if charging else 0.0,
    }


def battery_state(
    profile: BatteryProfile, t: float, actions: Sequence[ActionRef] = ()
) -> dict[str, Any]:
    """Home battery fields at ``t`` (epoch hours)."""
    level, slope = battery_level(profile, t)
    mode = DEFAULT_BATTERY_MODE
    steps = battery_steps(profile, actions) if actions else []
    if steps:
        state = LevelWalker(BatteryBaseline(profile), steps, profile.discharge_floor).at(t)
        level, slope, mode = state.level, state.slope, state.label or DEFAULT_BATTERY_MODE
    rate = round(slope / 100.0 * profile.capacity_kwh, 2)
    status = "charging" if rate > 0 else "discharging" if rate < 0 else "idle"
    return {
        "status": status,
        "level": round(level, 1),
        "capacity": profile.capacity_kwh,
        "chargeRate": rate + 0.0,  # + 0.0 turns a -0.0 into 0.0
        "currentMode": mode,
    }


def solar_state(profile: SolarProfile, t: float) -> dict[str, Any]:
    """Solar inverter fields at ``t`` (epoch hours)."""
    point = solar_point(profile, t)
    power = round(point.power_kw, 3)
    producing = power > 0
    status = "producing" if producing else "idle" if point.daylight else "night"
    return {
        "status": status,
        "producing": producing,
        "currentPower": power,
        "ratedPower": profile.rated_power_kw,
        "energyToday": round(point.energy_today, 2),
        "energyTotal": round(point.energy_total, 2),
    }


def charger_state(
    profile: ChargerProfile, t: float, actions: Sequence[ActionRef] = ()
) -> dict[str, Any]:
    """EV charger fields at ``t`` (epoch hours)."""
    point = charger_point(profile, t)
    connected, power = point.connected, point.power_kw
    action = charger_action(actions, t) if actions else None
    if action is not None and action.command == "charge":
        wanted = quantity(action.parameters, "power", "kw") or max_power_kw(profile)
        connected, power = True, min(wanted, max_power_kw(profile))
    elif action is not None and action.command == "idle":
        power = 0.0
    shown = round(power, 2)
    charging = shown > 0
    return {
        "status": "charging" if charging else "connected" if connected else "available",
        "isConnected": connected,
        "isCharging": charging,
        "currentPower": shown,
        "maxCurrent": profile.max_current_a,
    }
