"""Presence-based capabilities of a simulated device, from its vendor and model."""

from __future__ import annotations

from functools import lru_cache

from wattbridge.drivers.devices import Capabilities, CommandSpec, ParameterSpec, SettingSpec
from wattbridge_sandbox.catalogue import Model, VendorEntry
from wattbridge_sandbox.profiles import Profile, VehicleProfile


@lru_cache(maxsize=4096)
def capabilities_of(entry: VendorEntry, model: Model, profile: Profile) -> Capabilities:
    """Exactly the commands and settings this device offers (absent means unsupported).

    Cached: a read asks for them every time, and they depend only on the arguments.
    """
    if model.device_type == "vehicle":
        return _vehicle(entry, model, profile)
    if model.device_type == "battery":
        return _battery(entry, model)
    if model.device_type == "ev_charger":
        return _charger(model)
    return Capabilities()  # solar inverters take no commands


def _vehicle(entry: VendorEntry, model: Model, profile: Profile) -> Capabilities:
    limit = profile.charge_limit if isinstance(profile, VehicleProfile) else 90.0
    # The car's own charge limit caps any charge, so it bounds the target too.
    charge = {"target": ParameterSpec("percent", 50, limit)}
    if "power" in entry.optional_parameters:
        charge["power"] = ParameterSpec("kw", 1.4, model.power_kw)
    return Capabilities(
        commands={"charge": CommandSpec(charge), "idle": CommandSpec()},
        settings={"charge_limit": SettingSpec(limit, "percent", 50, 100)},
    )


def _battery(entry: VendorEntry, model: Model) -> Capabilities:
    power = ParameterSpec("kw", 0.5, model.power_kw)
    offered = {
        "charge": CommandSpec({"power": power, "target": ParameterSpec("percent", 10, 100)}),
        "discharge": CommandSpec({"power": power, "target": ParameterSpec("percent", 5, 100)}),
        "idle": CommandSpec(),
        "auto.balanced": CommandSpec(),
        "auto.reserve": CommandSpec({"reserve": ParameterSpec("percent", 5, 80)}),
        "auto.export": CommandSpec(),
    }
    return Capabilities(
        commands={name: spec for name, spec in offered.items() if name in entry.commands},
        settings={"discharge_floor": SettingSpec(10, "percent", 0, 50)},
    )


def _charger(model: Model) -> Capabilities:
    return Capabilities(
        commands={
            "charge": CommandSpec({"power": ParameterSpec("kw", 1.4, model.power_kw)}),
            "idle": CommandSpec(),
        },
        settings={"max_current": SettingSpec(model.max_current_a, "a", 6, model.max_current_a)},
    )
