"""The invented vendors and models the sandbox offers, and what each can do.

The names are made up on purpose: the sandbox must never look like it speaks
to a real brand. Vendors differ the way real ones do: in how the end user
signs in (``auth_scheme``), in which commands their API exposes (presence-based
capabilities: some batteries have no ``discharge`` or no ``auto.export``) and
in which optional parameters a command takes.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from wattbridge.drivers.devices import AuthScheme, DeviceType, Vendor


@attrs.frozen
class Model:
    """One hardware model and its nameplate figures.

    ``power_kw`` means: AC charging power (vehicle), maximum charge/discharge
    power (battery), rated AC power (solar inverter), maximum charging power
    (EV charger).
    """

    name: str
    device_type: DeviceType
    power_kw: float
    capacity_kwh: float = 0.0
    km_per_kwh: float = 0.0
    max_current_a: int = 0
    phases: int = 0


@attrs.frozen
class VendorEntry:
    """A vendor, its models and the commands (with optional parameters) it exposes."""

    vendor: Vendor
    models: tuple[Model, ...]
    commands: frozenset[str]
    # Optional parameters some vendors accept and others do not, e.g. a
    # vehicle API that takes a charging power besides the target.
    optional_parameters: frozenset[str] = frozenset()

    def models_of(self, device_type: DeviceType) -> tuple[Model, ...]:
        """The models of this vendor for ``device_type``."""
        return tuple(m for m in self.models if m.device_type == device_type)


def _vendor(
    vendor_id: str,
    name: str,
    auth: AuthScheme,
    models: Sequence[Model],
    commands: Sequence[str] = (),
    optional_parameters: Sequence[str] = (),
) -> VendorEntry:
    types = tuple(dict.fromkeys(m.device_type for m in models))
    return VendorEntry(
        vendor=Vendor(id=vendor_id, name=name, device_types=types, auth_scheme=auth),
        models=tuple(models),
        commands=frozenset(commands),
        optional_parameters=frozenset(optional_parameters),
    )


def _ev(name: str, capacity: float, ac_kw: float, km_per_kwh: float) -> Model:
    return Model(name, "vehicle", ac_kw, capacity_kwh=capacity, km_per_kwh=km_per_kwh)


def _bat(name: str, capacity: float, power: float) -> Model:
    return Model(name, "battery", power, capacity_kwh=capacity)


def _pv(name: str, rated: float) -> Model:
    return Model(name, "solar_inverter", rated)


def _evse(name: str, max_current: int, phases: int) -> Model:
    return Model(
        name,
        "ev_charger",
        round(phases * 230 * max_current / 1000, 1),
        max_current_a=max_current,
        phases=phases,
    )


_VEHICLE = ("charge", "idle")
_CHARGER = ("charge", "idle")

CATALOGUE: tuple[VendorEntry, ...] = (
    # Vehicles
    _vendor(
        "voltra",
        "Voltra Motors",
        "password",
        [_ev("Voltra E3", 64.0, 11.0, 6.3), _ev("Voltra E5 Long Range", 82.0, 11.0, 5.9)],
        _VEHICLE,
    ),
    _vendor(
        "nordvik",
        "Nordvik Automotive",
        "password",
        [_ev("Nordvik Fjord", 77.0, 11.0, 5.6), _ev("Nordvik Polar", 100.0, 11.0, 5.1)],
        _VEHICLE,
        optional_parameters=("power",),
    ),
    _vendor(
        "aurelia",
        "Aurelia Electric",
        "api_key",
        [_ev("Aurelia City", 42.0, 7.4, 6.8), _ev("Aurelia Grand Tourer", 90.0, 11.0, 5.4)],
        _VEHICLE,
    ),
    _vendor(
        "kestrel",
        "Kestrel Mobility",
        "password",
        [_ev("Kestrel K2", 58.0, 7.4, 6.1)],
        _VEHICLE,
        optional_parameters=("power",),
    ),
    # Home batteries (Helion also makes hybrid inverters)
    _vendor(
        "helion",
        "Helion Energy",
        "local_host",
        [
            _bat("Helion H10", 10.4, 5.0),
            _bat("Helion H15", 15.6, 6.0),
            _pv("Helion Hybrid 6K", 6.0),
            _pv("Helion Hybrid 10K", 10.0),
        ],
        ["charge", "discharge", "idle", "auto.balanced", "auto.reserve", "auto.export"],
    ),
    _vendor(
        "corvane",
        "Corvane Power",
        "password",
        [_bat("Corvane PowerCell 13", 13.5, 5.0)],
        ["charge", "discharge", "idle", "auto.balanced", "auto.reserve"],
    ),
    _vendor(
        "sundial",
        "Sundial Storage",
        "api_key",
        [_bat("Sundial Stack 5", 5.1, 2.5), _bat("Sundial Stack 10", 10.2, 5.0)],
        ["charge", "idle", "auto.balanced", "auto.export"],
    ),
    _vendor(
        "brightwell",
        "Brightwell Home",
        "password",
        [_bat("Brightwell Home 9.6", 9.6, 4.6)],
        ["charge", "discharge", "idle", "auto.balanced", "auto.reserve", "auto.export"],
    ),
    # Solar inverters
    _vendor(
        "lumora",
        "Lumora Solar",
        "local_host",
        [_pv("Lumora SI-3600", 3.6), _pv("Lumora SI-5000", 5.0), _pv("Lumora SI-8000", 8.0)],
    ),
    _vendor(
        "zenith", "Zenith Inverters", "api_key", [_pv("Zenith Z4.6", 4.6), _pv("Zenith Z6", 6.0)]
    ),
    _vendor(
        "soltana", "Soltana", "password", [_pv("Soltana Flex 4", 4.0), _pv("Soltana Flex 10", 10.0)]
    ),
    # EV chargers
    _vendor(
        "ampwise",
        "Ampwise",
        "password",
        [_evse("Ampwise Home 7", 32, 1), _evse("Ampwise Pro 11", 16, 3)],
        _CHARGER,
    ),
    _vendor(
        "chargenest",
        "Chargenest",
        "local_host",
        [_evse("Chargenest Wallbox 22", 32, 3), _evse("Chargenest Wallbox 11", 16, 3)],
        _CHARGER,
    ),
    _vendor("plugora", "Plugora", "api_key", [_evse("Plugora One", 16, 3)], _CHARGER),
)

_BY_ID = {entry.vendor.id: entry for entry in CATALOGUE}


def vendors() -> tuple[Vendor, ...]:
    """Every vendor the sandbox offers, in catalogue order."""
    return tuple(entry.vendor for entry in CATALOGUE)


def vendors_for(device_type: DeviceType) -> tuple[VendorEntry, ...]:
    """The vendor entries that make devices of ``device_type``."""
    return tuple(e for e in CATALOGUE if device_type in e.vendor.device_types)


def find_vendor(key: str) -> VendorEntry | None:
    """Look a vendor up by id or display name, case-insensitively."""
    wanted = key.strip().lower()
    if wanted in _BY_ID:
        return _BY_ID[wanted]
    for entry in CATALOGUE:
        if entry.vendor.name.lower() == wanted:
            return entry
    return None


def find_model(entry: VendorEntry, device_type: DeviceType, name: str) -> Model | None:
    """Look a model of ``entry`` up by name, case-insensitively."""
    wanted = name.strip().lower()
    for model in entry.models_of(device_type):
        if model.name.lower() == wanted:
            return model
    return None


def vendor_entry(vendor_id: str) -> VendorEntry:
    """The entry of a known vendor id (raises ``KeyError`` for an unknown one)."""
    return _BY_ID[vendor_id]
