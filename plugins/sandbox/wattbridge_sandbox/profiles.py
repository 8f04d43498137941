"""What makes one simulated device different from another.

:func:`build_attributes` invents a device's individual figures from a seed
string when the device is created; they are stored in the device's
``attributes`` (flat JSON scalars) so that the simulation reads them back
instead of re-deriving them, and so that an operator can see, and a test can
change, e.g. the latitude. :func:`profile_for` turns those attributes into a
typed profile for the simulation.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from wattbridge.drivers.devices import DeviceRef, DeviceType
from wattbridge_sandbox.catalogue import Model
from wattbridge_sandbox.seeding import draws, pick, uniform

SIM_VERSION = 1


@dataclass(frozen=True, slots=True)
class VehicleProfile:
    """Individual figures of a simulated electric vehicle."""

    seed: str
    capacity_kwh: float
    ac_power_kw: float
    km_per_kwh: float
    charge_limit: float
    level_offset: float


@dataclass(frozen=True, slots=True)
class BatteryProfile:
    """Individual figures of a simulated home battery."""

    seed: str
    capacity_kwh: float
    max_power_kw: float
    level_offset: float
    discharge_floor: float


@dataclass(frozen=True, slots=True)
class SolarProfile:
    """Individual figures of a simulated solar inverter and its panels."""

    seed: str
    rated_power_kw: float
    peak_ratio: float
    sunrise_h: float
    sunset_h: float
    latitude: float
    install_day: int
    weather_periods: tuple[float, float, float]
    weather_phases: tuple[float, float, float]


@dataclass(frozen=True, slots=True)
class ChargerProfile:
    """Individual figures of a simulated EV charger."""

    seed: str
    max_current_a: int
    phases: int
    session_current_a: float


Profile = VehicleProfile | BatteryProfile | SolarProfile | ChargerProfile


def build_attributes(device_type: DeviceType, model: Model, seed: str) -> dict[str, Any]:
    """Invent the individual figures of a new device of ``model`` from ``seed``."""
    u = draws("device", seed)
    base: dict[str, Any] = {"seed": seed, "simVersion": SIM_VERSION}
    if device_type == "vehicle":
        base |= {
            # Usable capacity varies a little with battery age.
            "capacityKwh": round(model.capacity_kwh * uniform(0.95, 1.0, u[0]), 1),
            "acPowerKw": model.power_kw,
            "kmPerKwh": round(model.km_per_kwh * uniform(0.96, 1.04, u[1]), 2),
            "chargeLimit": pick((90, 95, 95), u[2]),
            "levelOffset": round(uniform(-1.5, 1.5, u[3]), 2),
        }
    elif device_type == "battery":
        base |= {
            "capacityKwh": round(model.capacity_kwh * uniform(0.97, 1.0, u[0]), 2),
            "maxPowerKw": model.power_kw,
            "levelOffset": round(uniform(-2.0, 2.0, u[1]), 2),
            "dischargeFloor": 10,
        }
    elif device_type == "solar_inverter":
        base |= {
            "ratedPowerKw": model.power_kw,
            # Orientation and shading: no array delivers its full rating.
            "peakRatio": round(uniform(0.8, 0.95, u[0]), 3),
            "sunriseHour": round(uniform(6.0, 6.4, u[1]), 3),
            "sunsetHour": round(uniform(17.6, 18.0, u[2]), 3),
            # Northern hemisphere by default; a negative latitude mirrors the seasons.
            "latitude": round(uniform(40.0, 60.0, u[3]), 2),
            "installDay": int(uniform(0, 1500, u[4])),
            "weatherPhase1": round(uniform(0, 2 * math.pi, u[5]), 4),
            "weatherPhase2": round(uniform(0, 2 * math.pi, u[6]), 4),
            "weatherPhase3": round(uniform(0, 2 * math.pi, u[7]), 4),
        }
    else:
        base |= {
            "maxCurrentA": model.max_current_a,
            "phases": model.phases,
            # Many installations are limited below the charger's maximum.
            "sessionCurrentA": round(model.max_current_a * pick((0.75, 1.0, 1.0), u[0]), 1),
        }
    return base


def profile_for(device: DeviceRef) -> Profile:
    """The simulation profile of ``device``, read from its ``attributes``."""
    items = tuple(device.attributes.items())
    try:
        # The stored attributes keep their order, so this key is stable per device
        # and cheap to build (a read of 10,000 devices builds 10,000 of them).
        return _parse(device.type, items)
    except TypeError:  # a nested JSON value (unhashable) is not part of the profile
        return _parse(device.type, tuple(i for i in items if not isinstance(i[1], dict | list)))


@lru_cache(maxsize=65_536)
def _parse(device_type: DeviceType, items: tuple[tuple[str, Any], ...]) -> Profile:
    a: Mapping[str, Any] = dict(items)
    seed = str(a["seed"])
    if device_type == "vehicle":
        return VehicleProfile(
            seed=seed,
            capacity_kwh=float(a["capacityKwh"]),
            ac_power_kw=float(a["acPowerKw"]),
            km_per_kwh=float(a["kmPerKwh"]),
            charge_limit=float(a["chargeLimit"]),
            level_offset=float(a.get("levelOffset", 0.0)),
        )
    if device_type == "battery":
        return BatteryProfile(
            seed=seed,
            capacity_kwh=float(a["capacityKwh"]),
            max_power_kw=float(a["maxPowerKw"]),
            level_offset=float(a.get("levelOffset", 0.0)),
            discharge_floor=float(a.get("dischargeFloor", 10)),
        )
    if device_type == "solar_inverter":
        return SolarProfile(
            seed=seed,
            rated_power_kw=float(a["ratedPowerKw"]),
            peak_ratio=float(a.get("peakRatio", 0.9)),
            sunrise_h=float(a.get("sunriseHour", 6.2)),
            sunset_h=float(a.get("sunsetHour", 17.8)),
            latitude=float(a.get("latitude", 52.0)),
            install_day=int(a.get("installDay", 0)),
            # Incommensurate periods (days) make the weather look irregular
            # while keeping its sum over days in closed form.
            weather_periods=(3.7, 6.9, 11.3),
            weather_phases=(
                float(a.get("weatherPhase1", 0.0)),
                float(a.get("weatherPhase2", 0.0)),
                float(a.get("weatherPhase3", 0.0)),
            ),
        )
    return ChargerProfile(
        seed=seed,
        max_current_a=int(a["maxCurrentA"]),
        phases=int(a["phases"]),
        session_current_a=float(a.get("sessionCurrentA", a["maxCurrentA"])),
    )
